"""The network's site settings: our own AE (title, port, storage folder), the peers allowed to send
to us, and the PACS we query and send to. A JSON file beside the site thresholds
(`paths.site_settings_file()`), or `CXRVIEWER_NETWORK_SETTINGS`; written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cxrviewer import paths
from cxrviewer.core.atomic import write_text_atomically
from cxrviewer.core.errors import ConfigError

SCHEMA = "cxrviewer.net-settings/1"
DEFAULT_AE_TITLE = "CXRVIEWER"
DEFAULT_PORT = 11112
DIMSE_RETRIEVALS = ("get", "move")


@dataclass(frozen=True)
class Peer:
    """A DICOM node: its AE title and address; `dicomweb_url` (e.g. http://pacs:8042/dicom-web) when
    it also speaks DICOMweb. `name` is how settings and commands refer to it. `retrieve`: how a study
    is fetched over DIMSE, "get" (C-GET: the PACS stores into our own association, no inbound port)
    or "move" (C-MOVE to our storage service, which the PACS must know by AE title, host and port)."""

    name: str
    ae_title: str
    host: str
    port: int = 104
    dicomweb_url: str = ""
    retrieve: str = "get"

    def __post_init__(self) -> None:
        _check_ae_title(self.ae_title, f"peer {self.name}")
        if not 0 < int(self.port) < 65536:
            raise ConfigError(f"peer {self.name}: port {self.port} is not a TCP port")
        if self.retrieve not in DIMSE_RETRIEVALS:
            raise ConfigError(f"peer {self.name}: retrieve is {self.retrieve!r}, not one of {', '.join(DIMSE_RETRIEVALS)}")

    def describe(self) -> str:
        return f"{self.name} ({self.ae_title} at {self.host}:{self.port})"


@dataclass(frozen=True)
class AllowedSender:
    """A node allowed to send studies to our storage service: its AE title and host (IP or name)."""

    ae_title: str
    host: str

    def matches(self, ae_title: str, address: str) -> bool:
        return ae_title.strip() == self.ae_title.strip() and address in _addresses(self.host)


@dataclass(frozen=True)
class NetworkSettings:
    """ae_title/port/storage: our storage service; allowed: who may send to it (empty: nobody);
    peers: the PACS we query and send to, by name; receive_in_viewer: the viewer runs the storage
    service while it is open (off by default: `cxrviewer listen` may be the one receiving)."""

    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    storage: str = ""
    allowed: tuple[AllowedSender, ...] = ()
    peers: tuple[Peer, ...] = field(default_factory=tuple)
    receive_in_viewer: bool = False

    def __post_init__(self) -> None:
        _check_ae_title(self.ae_title, "our AE title")

    def storage_folder(self) -> Path:
        return Path(self.storage) if self.storage else paths.cache_dir().parent / "cxrviewer-received"

    def peer(self, name: str) -> Peer:
        """The peer called `name`; ConfigError listing the known peers otherwise."""
        for peer in self.peers:
            if peer.name == name:
                return peer
        known = ", ".join(p.name for p in self.peers) or "none"
        raise ConfigError(f"no PACS peer named {name!r} in the network settings {settings_file()} (known: {known}); "
                          "add one with `cxrviewer pacs add-peer`")


def _check_ae_title(title: str, what: str) -> None:
    if not title or len(title) > 16 or "\\" in title or not title.isprintable():
        raise ConfigError(f"{what}: {title!r} is not an AE title (1-16 printable characters, no backslash)")


def _addresses(host: str) -> set[str]:
    """The addresses a host name stands for (an IP stands for itself)."""
    import socket

    try:
        return {host} | {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return {host}


def settings_file() -> Path:
    override = os.environ.get("CXRVIEWER_NETWORK_SETTINGS")
    return Path(override) if override else paths.site_settings_file().with_name("network-settings.json")


def load_network_settings(path: Path | None = None) -> NetworkSettings:
    """The settings in `path` (default `settings_file()`); the defaults when there is no file. A damaged
    file is a ConfigError naming it."""
    target = Path(path) if path is not None else settings_file()
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return NetworkSettings()
    except (OSError, ValueError) as error:
        raise ConfigError(f"network settings {target}: not readable ({error})") from None
    try:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema is {data.get('schema')!r}, expected {SCHEMA!r}")
        return NetworkSettings(
            ae_title=data.get("ae_title", DEFAULT_AE_TITLE), port=int(data.get("port", DEFAULT_PORT)),
            storage=data.get("storage", ""),
            allowed=tuple(AllowedSender(**entry) for entry in data.get("allowed", [])),
            peers=tuple(Peer(**entry) for entry in data.get("peers", [])),
            receive_in_viewer=bool(data.get("receive_in_viewer", False)))
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigError(f"network settings {target}: damaged ({error}); fix or remove the file") from None


def save_network_settings(settings: NetworkSettings, path: Path | None = None) -> Path:
    target = Path(path) if path is not None else settings_file()
    document = {"schema": SCHEMA, **asdict(settings)}
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomically(target, json.dumps(document, indent=1) + "\n")
