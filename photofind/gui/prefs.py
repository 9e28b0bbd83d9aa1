"""What the app remembers between runs, over QSettings, with types and safe defaults.

QSettings returns strings from INI files and native types elsewhere, and old or hand-edited
values can be anything; every getter here converts and falls back instead of raising.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from photofind.core.types import Tier
from photofind.gui.group_model import SortKey


def default_settings() -> QSettings:
    """The per-user settings file (an INI file, the same on every OS, easy to inspect)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "photofind", "photofind")


class Prefs:
    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings or default_settings()

    def _get(self, key: str, default=None):
        value = self.qsettings.value(key, default)
        return default if value is None else value

    def _bool(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)

    def _set(self, key: str, value) -> None:
        self.qsettings.setValue(key, value)

    def sync(self) -> None:
        self.qsettings.sync()

    # -- library --------------------------------------------------------------------------------

    @property
    def folders_json(self) -> str:
        return str(self._get("library/folders", "[]"))

    @folders_json.setter
    def folders_json(self, value: str) -> None:
        self._set("library/folders", value)

    # -- matching and view -------------------------------------------------------------------------

    @property
    def similarity(self) -> float | None:
        try:
            value = float(self._get("match/similarity", ""))
        except (TypeError, ValueError):
            return None
        return value if 0.0 < value < 1.0 else None

    @similarity.setter
    def similarity(self, value: float | None) -> None:
        """None: the user wants the calibrated thresholds again."""
        if value is None:
            self.qsettings.remove("match/similarity")
        else:
            self._set("match/similarity", f"{value:.3f}")

    @property
    def keep_rules(self) -> str:
        """The keeper rule chain (photofind.core.cleanup.keep), "" for the default."""
        return str(self._get("review/keep_rules", "") or "")

    @keep_rules.setter
    def keep_rules(self, chain: str) -> None:
        self._set("review/keep_rules", chain or "")

    @property
    def tiers(self) -> set[Tier]:
        raw = self._get("view/tiers", None)
        if raw is None:
            return set(Tier)
        names = raw if isinstance(raw, list) else str(raw).split(",")
        tiers = {Tier(n.strip()) for n in names if n.strip() in {t.value for t in Tier}}
        return tiers

    @tiers.setter
    def tiers(self, tiers: set[Tier]) -> None:
        self._set("view/tiers", ",".join(t.value for t in Tier if t in tiers))

    @property
    def sort_key(self) -> SortKey:
        try:
            return SortKey(str(self._get("view/sort", SortKey.RECLAIMABLE.value)))
        except ValueError:
            return SortKey.RECLAIMABLE

    @sort_key.setter
    def sort_key(self, key: SortKey) -> None:
        self._set("view/sort", SortKey(key).value)

    # -- model ----------------------------------------------------------------------------------

    @property
    def weights(self) -> str | None:
        value = str(self._get("model/weights", "") or "")
        return value or None

    @weights.setter
    def weights(self, path: str | None) -> None:
        self._set("model/weights", path or "")

    @property
    def embed(self) -> bool:
        """False once the user chose to continue with exact duplicates only."""
        return self._bool("model/embed", True)

    @embed.setter
    def embed(self, value: bool) -> None:
        self._set("model/embed", bool(value))

    @property
    def model_problem(self) -> str:
        """Why the model was missing when the user chose to go on without it."""
        return str(self._get("model/problem", "") or "")

    @model_problem.setter
    def model_problem(self, text: str) -> None:
        self._set("model/problem", text or "")

    # -- window ---------------------------------------------------------------------------------

    def window_state(self, name: str) -> QByteArray | None:
        value = self._get(f"window/{name}", None)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, name: str, value: QByteArray) -> None:
        self._set(f"window/{name}", value)
