"""The app: what one process keeps between requests, made once at start by the edge (handler.py,
aiops/aws.py, through `aiops.routes.start`) and passed down to every request (README
"Layout"): the settings, the conversation store, the provider clients with the response
formats they accepted, and the catalogue. Tests make their own instead of resetting globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiops import catalog, llm
from aiops.settings import Settings, read_settings
from aiops.store import Store, new_store


@dataclass(frozen=True)
class App:
    settings: Settings
    store: Store
    providers: llm.Providers = field(default_factory=llm.Providers)
    catalog: catalog.Catalog = field(default_factory=catalog.load)

    @classmethod
    def from_env(cls) -> App:
        """The settings read from the environment (raises SettingsError), and their store."""
        return cls.from_settings(read_settings())

    @classmethod
    def from_settings(cls, settings: Settings) -> App:
        return cls(settings, new_store(settings))

    def warm_up(self) -> None:
        """Do at start what the first request would otherwise pay for: the provider's client
        (the store's client connects on first use; the catalogue is loaded already)."""
        self.providers.client(self.settings.openai_base_url)

    def close(self) -> None:
        """Close the provider and store connections (an app that is done with)."""
        self.providers.close()
        close = getattr(self.store, "close", None)
        if close is not None:
            close()
