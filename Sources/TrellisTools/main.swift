print("trellis-tools: under construction")
