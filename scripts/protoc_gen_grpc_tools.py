"""A protoc plugin that runs one of grpcio-tools' built-in generators.

`buf generate` drives every generator through the plugin protocol, but grpcio-tools ships
its generators (`python`, `pyi`, `grpc_python`) inside its own protoc rather than as plugins. This
script is that plugin: it reads the CodeGeneratorRequest buf sends on stdin, hands its
descriptors to grpcio-tools' protoc (`--descriptor_set_in`, comments included), and answers
with the files that generator wrote. The output is what `protoc --python_out` (`--pyi_out`,
`--grpc_python_out`) of the same grpcio-tools writes from the .proto sources.

Usage (in buf.gen.yaml): python scripts/protoc_gen_grpc_tools.py python|pyi|grpc_python
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc

GENERATORS = ("python", "pyi", "grpc_python")


def default_json_name(name: str) -> str:
    """protoc's JSON name of a field: lowerCamelCase of its name (ToJsonName)."""
    parts = name.split("_")
    return parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])


def clear_default_json_names(messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
    """Drop the json_name buf fills in where protoc leaves it unset (it equals the default).

    Python code embeds each file's serialized descriptor; protoc reading the .proto files
    records a json_name only when the file sets one, so the same goes for this plugin.
    """
    for message in messages:
        for field in message.field:
            if field.json_name == default_json_name(field.name):
                field.ClearField("json_name")
        clear_default_json_names(message.nested_type)


def generate(request: plugin_pb2.CodeGeneratorRequest, generator: str) -> list[tuple[str, str]]:
    """The (name, content) of each file `generator` writes for the request's files."""
    descriptors = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
    for file in descriptors.file:
        clear_default_json_names(file.message_type)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "descriptors.binpb").write_bytes(descriptors.SerializeToString())
        out = root / "out"
        out.mkdir()
        options = f"{request.parameter}:" if request.parameter else ""
        args = [
            "protoc",
            f"--descriptor_set_in={root / 'descriptors.binpb'}",
            f"--{generator}_out={options}{out}",
            *request.file_to_generate,
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"grpcio-tools protoc --{generator}_out failed")
        return [
            (path.relative_to(out).as_posix(), path.read_text())
            for path in sorted(out.rglob("*"))
            if path.is_file()
        ]


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in GENERATORS:
        print(f"usage: {sys.argv[0]} {'|'.join(GENERATORS)}", file=sys.stderr)
        return 2
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    try:
        for name, content in generate(request, sys.argv[1]):
            response.file.add(name=name, content=content)
    except RuntimeError as err:
        response.error = str(err)
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
