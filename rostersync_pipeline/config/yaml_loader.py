"""Reading a district file: at most 256 KiB of UTF-8, parsed by a YAML loader that refuses
duplicate keys, anchors and aliases, merge keys, non-scalar keys and nesting deeper than 12."""

from __future__ import annotations

import codecs
from pathlib import Path

import yaml

from rostersync_pipeline.config.errors import ConfigError

MAX_CONFIG_BYTES = 256 * 1024
MAX_NESTING = 12


class _YamlRefusal(Exception):
    """A YAML construct district files may not use, with the key path and line it was found at."""

    def __init__(self, key: str | None, line: int, reason: str) -> None:
        super().__init__(reason)
        self.key, self.line, self.reason = key, line, reason


class _DistrictYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate and merge (``<<``) keys, anchors and aliases
    (a few aliases can expand to gigabytes), non-scalar keys and nesting deeper than
    :data:`MAX_NESTING`."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._path: list[str] = []

    def _key(self, last: str | None = None) -> str:
        return ".".join([*self._path, *([last] if last is not None else [])]) or "(top level)"

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        is_key = isinstance(parent, yaml.MappingNode) and index is None
        label = index.value if isinstance(index, yaml.ScalarNode) else index
        if label is not None:
            self._path.append(str(label))
        try:
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
                raise _YamlRefusal(self._key(), line, "YAML anchors and aliases (& and *) are "
                                                      "not allowed")
            if is_key and not isinstance(event, yaml.ScalarEvent):
                raise _YamlRefusal(self._key(), line, "a key must be a plain value")
            if isinstance(event, yaml.CollectionStartEvent) and len(self._path) >= MAX_NESTING:
                raise _YamlRefusal(self._key(), line, f"nested deeper than {MAX_NESTING} levels")
            return super().compose_node(parent, index)
        finally:
            if label is not None:
                self._path.pop()

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        first_lines: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _YamlRefusal(self._key("<<"), line, "merge keys (<<) are not allowed")
            identity = (key_node.tag, key_node.value)
            if identity in first_lines:
                raise _YamlRefusal(self._key(key_node.value), line,
                                   f"duplicate key (first at line {first_lines[identity]})")
            first_lines[identity] = line
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise _YamlRefusal(None, node.start_mark.line + 1,
                               f"cannot read the value {node.value!r}: {exc}") from exc


def read_config_text(path: Path) -> str:
    """The file as text: at most :data:`MAX_CONFIG_BYTES` of UTF-8 (a BOM is allowed)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a district config "
                          "is a few KiB")
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(body)
        line = data.count(b"\n", 0, offset) + 1
        raise ConfigError(f"{path}: not UTF-8: byte 0x{data[offset]:02x} at offset {offset} "
                          f"(line {line}); save it as UTF-8") from exc


def _yaml_data(text: str) -> object:
    loader = _DistrictYamlLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_yaml(text: str, path: Path) -> object:
    try:
        return _yaml_data(text)
    except _YamlRefusal as exc:
        where = f"key {exc.key} (line {exc.line})" if exc.key else f"line {exc.line}"
        raise ConfigError(f"{path}: {where}: {exc.reason}") from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{path}: not valid YAML at line {line}: character "
                          f"#x{exc.character:04x} is not allowed ({exc.reason})") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = "; ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(f"{path}: not valid YAML{where}: {reason}") from exc
