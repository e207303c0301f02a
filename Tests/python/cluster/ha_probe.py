"""Does this trellis build run dbms.mode=HA? Starts one member from cluster-configs/instance1.conf (alone in its
ha.initial_hosts, so it forms a cluster by itself) on free loopback ports and watches what happens.
Exit 0: HA starts (the member stayed up and opened its HTTP port). Exit 1: it does not (the reason is printed)."""
import sys
import time

import harness


def main():
    cluster = harness.Cluster(templates=("instance1",))
    member = cluster.members[0]
    try:
        member.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not member.running:
                text = member.log() + open(f"{member.home}/console.out", errors="replace").read()
                print(f"ha_probe: trellis exited with {member.proc.returncode}:\n{text[-3000:]}")
                return 1
            status, _ = member.http_get("/db/manage/server/ha/available")
            if status is not None:
                return 0
            time.sleep(0.1)
        print("ha_probe: an HA member did not open its HTTP port within 60 s:\n" + member.log()[-3000:])
        return 1
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
