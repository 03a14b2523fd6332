"""Config files: YAML with line numbers, --set overrides, key checks."""

from nntrain.config.loader import Config, apply_override, load_config, parse_yaml
from nntrain.config.schema import check_keys, fit_settings, validate_config

__all__ = ["Config", "apply_override", "check_keys", "fit_settings", "load_config", "parse_yaml",
           "validate_config"]
