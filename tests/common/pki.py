"""A throwaway certificate authority for the TLS tests, made with the `openssl` command
at test time: a CA, a server certificate for localhost and 127.0.0.1, and client
certificates (one signed by the CA, one self-signed, which no server should accept).
Nothing here is kept: the files live in the test's temporary directory."""

import os
import subprocess


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Pki:
    def __init__(self, directory):
        d = self.dir = os.fspath(directory)
        os.makedirs(d, exist_ok=True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _openssl(
            "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=metricore test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=d,
        )
        self.ca = os.path.join(d, "ca.crt")
        self.server_cert, self.server_key = self._leaf(
            "server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
        )
        self.client_cert, self.client_key = self._leaf("client", "prometheus", "extendedKeyUsage=clientAuth\n")
        # A client certificate from no CA the server knows.
        _openssl(
            "req", "-x509", *ec, "-keyout", "stranger.key", "-out", "stranger.crt", "-days", "2",
            "-subj", "/CN=stranger", cwd=d,
        )
        self.stranger_cert = os.path.join(d, "stranger.crt")
        self.stranger_key = os.path.join(d, "stranger.key")

    def _leaf(self, name, cn, extensions):
        d = self.dir
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" + extensions)
        _openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d,
        )
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d,
        )
        return os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")


def bcrypt_hash(password, cost=10):
    """The bcrypt hash of `password`, as exporter-toolkit's documentation makes it
    (htpasswd from apache2-utils)."""
    out = subprocess.run(
        ["htpasswd", "-nbBC", str(cost), "", password], check=True, capture_output=True, text=True
    ).stdout
    return out.strip().lstrip(":")
