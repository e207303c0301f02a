"""Auth flows that need their own server: the first-start password change, roles, and Bolt over TLS."""
import os
import shutil
import subprocess

import pytest
from neo4j import GraphDatabase, TrustAll
from neo4j.exceptions import AuthError, ClientError, Forbidden

from conftest import TrellisProcess


def test_initial_password_must_be_changed_first():
    server = TrellisProcess(initial_password=None)
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", "neo4j")) as d:
            with d.session() as s:
                with pytest.raises(ClientError) as e:
                    s.run("RETURN 1").consume()
                assert e.value.code == "Neo.ClientError.Security.CredentialsExpired"
                s.run("CALL dbms.security.changePassword($pw)", pw="changed-1").consume()
        with GraphDatabase.driver(server.uri, auth=("neo4j", "changed-1")) as d:
            assert d.execute_query("RETURN 1 AS x").records[0]["x"] == 1
        with GraphDatabase.driver(server.uri, auth=("neo4j", "neo4j")) as d:
            with pytest.raises(AuthError):
                d.verify_connectivity()
        auth_file = os.path.join(server.home, "data", "dbms", "auth")
        assert oct(os.stat(auth_file).st_mode & 0o777) == "0o600"
        assert "changed-1" not in open(auth_file).read()
    finally:
        server.stop()


def test_roles_are_enforced_and_failed_logins_lock_the_user():
    server = TrellisProcess(settings={"dbms.security.auth_lock_time": "2s"})
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", "test-password")) as admin:
            admin.execute_query("CALL dbms.security.createUser('reading', 'pw', false)")
            admin.execute_query("CALL dbms.security.addRoleToUser('reader', 'reading')")
            admin.execute_query("CREATE (:Seen)")
            users = {r["username"] for r in admin.execute_query("CALL dbms.security.listUsers()").records}
            assert users == {"neo4j", "reading"}
        with GraphDatabase.driver(server.uri, auth=("reading", "pw")) as reader:
            assert reader.execute_query("MATCH (n:Seen) RETURN count(n) AS c").records[0]["c"] == 1
            with pytest.raises(Forbidden):
                reader.execute_query("CREATE (:Seen)")
            with pytest.raises(ClientError):
                reader.execute_query("CALL dbms.security.createUser('x', 'y', false)")
        for _ in range(3):
            with GraphDatabase.driver(server.uri, auth=("reading", "bad")) as d:
                with pytest.raises(AuthError):
                    d.verify_connectivity()
        with GraphDatabase.driver(server.uri, auth=("reading", "pw")) as d:
            with pytest.raises((AuthError, ClientError)) as e:
                d.verify_connectivity()
            assert "AuthenticationRateLimit" in str(e.value) or "too many" in str(e.value)
    finally:
        server.stop()


def make_certificate(server):
    folder = os.path.join(server.home, "certificates", "bolt")
    os.makedirs(folder)
    script = os.path.join(os.path.dirname(__file__), "../../../scripts/make-test-certs.sh")
    key, crt = os.path.join(folder, "private.key"), os.path.join(folder, "public.crt")
    if os.path.exists(script):
        subprocess.run(["bash", script, folder], check=True, capture_output=True)
    if not (os.path.exists(key) and os.path.exists(crt)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_tls_required():
    server = TrellisProcess(settings={"dbms.connector.bolt.tls_level": "REQUIRED"}, prepare=make_certificate)
    try:
        with GraphDatabase.driver(f"bolt+ssc://127.0.0.1:{server.bolt_port}", auth=("neo4j", "test-password")) as d:
            assert d.execute_query("RETURN 'secure' AS s").records[0]["s"] == "secure"
        with GraphDatabase.driver(server.uri, auth=("neo4j", "test-password"),
                                  connection_timeout=3, max_transaction_retry_time=0) as d:
            # The server answers a plain handshake with TLS bytes (or closes): no Bolt session either way.
            # (driver 6: ServiceUnavailable/UnsupportedServerProduct; 5.28: its private BoltHandshakeError.)
            with pytest.raises(Exception) as e:
                d.verify_connectivity()
            assert type(e.value).__module__.startswith("neo4j")
    finally:
        server.stop()


def test_neo4j_5_style_password_change_on_the_system_database():
    server = TrellisProcess(initial_password=None)
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", "neo4j")) as d:
            with d.session(database="system") as s:
                s.run("ALTER CURRENT USER SET PASSWORD FROM $old TO $new", old="neo4j", new="changed-2").consume()
        with GraphDatabase.driver(server.uri, auth=("neo4j", "changed-2")) as d:
            with d.session(database="system") as s:
                me = s.run("SHOW CURRENT USER").single()
            assert me["user"] == "neo4j" and me["passwordChangeRequired"] is False
            assert d.execute_query("RETURN 1 AS x", database_="neo4j").records[0]["x"] == 1
    finally:
        server.stop()
