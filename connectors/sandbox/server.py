"""Run the three fakes over one world store: :class:`Sandbox`.

``Sandbox(store_path, workdir)`` writes into ``workdir``:

* ``sandbox-ca.pem`` / ``sandbox-key.pem``: the Salesforce fake's TLS certificate (also the CA
  bundle clients trust, ``SALESFORCE_CA_BUNDLE``);
* ``salesforce-jwt-key.pem``: the private key of the Salesforce connected app's certificate
  (fresh per start) for the JWT bearer flow (``SALESFORCE_JWT_KEY_FILE``);
* ``ga4-service-account.json``: a service-account key file (fresh RSA key per start) whose
  ``token_uri`` is the GA4 fake's ``/token``; the GA4 fake verifies JWTs with its public key;
* ``exports/``: the advocacy platform's post exports (``connectors.sandbox.exports``);

and serves HubSpot (http), Salesforce (https), GA4 (http) and GA4's BigQuery export (http, the
BigQuery REST API; same credentials as GA4) on 127.0.0.1 with one shared
:class:`~connectors.sandbox.fakes.base.FaultPlan`. :meth:`Sandbox.env` is the product's
configuration (.env.example) pointing at the fakes.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.sandbox import catalog, store, tls
from connectors.sandbox.config import WorldConfig, sandbox_credentials
from connectors.sandbox.fakes.base import FakeServer, FaultPlan
from connectors.sandbox.fakes.bigquery import BigQueryApp
from connectors.sandbox.fakes.ga4 import GA4App
from connectors.sandbox.fakes.hubspot import HubSpotApp

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_FILE = "ga4-service-account.json"
SALESFORCE_JWT_KEY_FILE = "salesforce-jwt-key.pem"
GA4_SCOPE = "https://www.googleapis.com/auth/analytics.readonly"


def _optional(module: str) -> Any | None:
    """Import a sibling module that another part of the sandbox provides, or None if absent."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


class Sandbox:
    def __init__(
        self,
        store_path: str | Path,
        workdir: str | Path,
        *,
        faults: FaultPlan | str | None = None,
        ports: dict[str, int] | None = None,
    ) -> None:
        self.store_path = Path(store_path)
        self.workdir = Path(workdir)
        self.faults = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults)
        self.ports = dict(ports or {})
        self.hubspot: FakeServer | None = None
        self.salesforce: FakeServer | None = None
        self.ga4: FakeServer | None = None
        self.bigquery: FakeServer | None = None
        self.exports_dir = self.workdir / "exports"
        self.cert_path = self.workdir / "sandbox-ca.pem"
        self.service_account_path = self.workdir / SERVICE_ACCOUNT_FILE
        self.jwt_key_path = self.workdir / SALESFORCE_JWT_KEY_FILE
        meta = self._meta()
        self.seed = int(meta.get("seed", WorldConfig.seed))
        self.ga4_property_id = str(meta.get("ga4_property_id") or WorldConfig.ga4_property_id)
        self.credentials = sandbox_credentials(self.seed)
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        if not self.store_path.exists():
            raise FileNotFoundError(f"world store not found: {self.store_path}")
        conn = store.connect(self.store_path, readonly=True)
        try:
            return store.read_meta(conn)
        finally:
            conn.close()

    def start(self) -> Sandbox:
        if self._started:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = tls.make_certificate(self.workdir)
        self.cert_path = cert_path
        creds = self.credentials

        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        servers: list[FakeServer] = []
        try:
            self.hubspot = FakeServer(
                HubSpotApp(self.store_path, access_token=creds["hubspot_access_token"]),
                faults=self.faults, port=self.ports.get("hubspot", 0),
            )
            servers.append(self.hubspot)
            ga4_app = GA4App(self.store_path,
                             service_account_email=creds["ga4_service_account_email"],
                             public_key_pem=public_pem,
                             authorized_user=(creds["ga4_oauth_client_id"],
                                              creds["ga4_oauth_client_secret"],
                                              creds["ga4_refresh_token"]))
            self.ga4 = FakeServer(ga4_app, faults=self.faults, port=self.ports.get("ga4", 0))
            servers.append(self.ga4)
            # the export is read with the same Google credentials (tokens from the GA4 fake)
            self.bigquery = FakeServer(BigQueryApp(self.store_path, authorize=ga4_app._authorized),
                                       faults=self.faults, port=self.ports.get("bigquery", 0))
            servers.append(self.bigquery)
            sf_module = _optional("connectors.sandbox.fakes.salesforce")
            if sf_module is None:
                log.warning("Salesforce fake not available (connectors.sandbox.fakes.salesforce "
                            "is missing): serving HubSpot and GA4 only")
            else:
                app = _construct(sf_module.SalesforceApp, self.store_path, creds)
                # the connected app's certificate for the JWT bearer flow: the fake verifies
                # with its public key, the product signs with the key file
                jwt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                app.jwt_public_key_pem = jwt_key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                _write_private(self.jwt_key_path, jwt_key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()).decode())
                self.salesforce = FakeServer(
                    app, faults=self.faults, port=self.ports.get("salesforce", 0),
                    ssl_context=tls.server_context(cert_path, key_path),
                )
                servers.append(self.salesforce)
            self._write_service_account(sa_key)
            self.write_exports()
            for server in servers:
                server.start()
        except BaseException:
            for server in servers:
                with contextlib.suppress(OSError):
                    server.httpd.server_close()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        for server in (self.hubspot, self.salesforce, self.ga4, self.bigquery):
            if server is not None and self._started:
                server.stop()
        self._started = False

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- files ----------------------------------------------------------------------------
    def _write_service_account(self, key: rsa.RSAPrivateKey) -> None:
        assert self.ga4 is not None
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": "sandbox-project",
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": self.credentials["ga4_service_account_email"],
            "client_id": str(100_000_000_000_000_000_000 + self.seed),
            "auth_uri": f"{self.ga4.url}/auth",
            "token_uri": f"{self.ga4.url}/token",
            "auth_provider_x509_cert_url": f"{self.ga4.url}/certs",
            "client_x509_cert_url": f"{self.ga4.url}/certs/sa",
            "universe_domain": "googleapis.com",
        }
        _write_private(self.service_account_path, json.dumps(info, indent=2) + "\n")

    @property
    def salesforce_generic_login_url(self) -> str:
        """The Salesforce fake under its ``localhost`` name, which stands for the generic login
        host (login.salesforce.com): the client-credentials grant is refused there."""
        assert self.salesforce is not None
        return f"https://localhost:{self.salesforce.port}"

    def write_exports(self) -> list[Path]:
        exports = _optional("connectors.sandbox.exports")
        self.exports_dir.mkdir(parents=True, exist_ok=True)
        if exports is None:
            log.warning("advocacy exports not written: connectors.sandbox.exports is missing")
            return []
        return list(exports.write_exports(self.store_path, self.exports_dir))

    # -- configuration --------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        if not self._started or self.hubspot is None or self.ga4 is None:
            raise RuntimeError("Sandbox.env() needs a started sandbox")
        c = self.credentials
        env = {
            "HUBSPOT_ACCESS_TOKEN": c["hubspot_access_token"],
            "HUBSPOT_BASE_URL": self.hubspot.url,
        }
        if self.salesforce is not None:
            env.update({
                "SALESFORCE_INSTANCE_URL": self.salesforce.url,
                "SALESFORCE_LOGIN_URL": self.salesforce.url,
                "SALESFORCE_USERNAME": c["salesforce_username"],
                "SALESFORCE_PASSWORD": c["salesforce_password"],
                "SALESFORCE_SECURITY_TOKEN": c["salesforce_security_token"],
                "SALESFORCE_CLIENT_ID": c["salesforce_client_id"],
                "SALESFORCE_CLIENT_SECRET": c["salesforce_client_secret"],
                "SALESFORCE_CA_BUNDLE": str(self.cert_path.resolve()),
            })
        env.update({
            "GA4_PROPERTY_ID": self.ga4_property_id,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.service_account_path.resolve()),
            "GA4_API_ENDPOINT": self.ga4.url,
            "GA4_VISITOR_DIMENSION": catalog.GA4_VISITOR_DIMENSION,
        })
        if self.bigquery is not None:
            # offered, not selected: GA4_SOURCE=bigquery_export reads the per-visitor sessions
            # from the export instead of the Data API (docs/GA4.md)
            project, dataset = self.bigquery.app.names()
            env.update({"GA4_BIGQUERY_PROJECT": project, "GA4_BIGQUERY_DATASET": dataset,
                        "GA4_BIGQUERY_ENDPOINT": self.bigquery.url})
        env.update({
            "ADVOCACY_EXPORTS_DIR": str(self.exports_dir.resolve()),
        })
        return env

    def write_env_file(self, path: str | Path) -> Path:
        path = Path(path)
        lines = [
            "# advocacy sandbox: connections to the local fakes (generated by "
            "`advocacy sandbox serve`; contains sandbox secrets, do not commit)",
            f"# world store: {self.store_path.resolve()}",
        ]
        lines += [f"{k}={v}" for k, v in self.env().items()]
        _write_private(path, "\n".join(lines) + "\n")
        return path

    # -- time -----------------------------------------------------------------------------
    def advance(self, days: int) -> None:
        """Advance the world ``days`` days and re-write the exports. The fakes read meta per
        request, so they see the new clock at once (HubSpot's search-index lag is counted on
        that clock)."""
        world = importlib.import_module("connectors.sandbox.world")
        world.advance(self.store_path, days)
        self.write_exports()

    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in
                (("hubspot", self.hubspot), ("salesforce", self.salesforce), ("ga4", self.ga4),
                 ("bigquery", self.bigquery))
                if server is not None}

    def request_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for name, server in (("hubspot", self.hubspot), ("salesforce", self.salesforce),
                             ("ga4", self.ga4), ("bigquery", self.bigquery)):
            if server is None:
                continue
            entries = server.requests()
            out[name] = {
                "requests": len(entries),
                "faulted": sum(1 for e in entries if e.fault is not None),
                "errors": sum(1 for e in entries if e.status >= 400),
            }
        return out


def _construct(cls: type, store_path: Path, creds: dict[str, str]) -> Any:
    """Build the Salesforce app, passing the credentials it asks for by keyword."""
    params = inspect.signature(cls).parameters
    kwargs: dict[str, Any] = {}
    aliases = {
        "username": "salesforce_username", "password": "salesforce_password",
        "security_token": "salesforce_security_token", "client_id": "salesforce_client_id",
        "client_secret": "salesforce_client_secret", "credentials": None,
    }
    for name, key in aliases.items():
        if name in params:
            kwargs[name] = creds if key is None else creds[key]
    return cls(store_path, **kwargs)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)
