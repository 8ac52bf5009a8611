"""pinecone_local's own message definitions (twinadmin/vectors/server/proto/db_data.proto) are
wire-compatible with Pinecone's published `db_data_2026-04.proto`: every message and field the
project defines has the reference's name, number, type and cardinality, and the service its
methods with their request and response types. Both files are compiled by protoc (grpcio-tools),
so what is compared is what protoc understands of them, not a reading of their text.

The reference lives in `../shared/pinecone/` beside the clone (never copied into the project):
required in CI, elsewhere the module is skipped, saying why."""

from __future__ import annotations

import os
from pathlib import Path

import grpc_tools
import pytest
from django.conf import settings
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

REFERENCE = Path(settings.BASE_DIR).parent / "shared" / "pinecone" / "db_data_2026-04.proto"
OURS = Path(settings.BASE_DIR) / "twinadmin" / "vectors" / "server" / "proto" / "db_data.proto"
# The reference's only message the server has no use for: "not actually used in any public APIs".
LEFT_OUT = {"RequestUnion"}

if not REFERENCE.is_file():
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        raise RuntimeError(
            f"CI needs Pinecone's {REFERENCE.name} in {REFERENCE.parent}, shared/ beside the clone"
        )
    pytest.skip(f"Pinecone's {REFERENCE.name} is not in {REFERENCE.parent}", allow_module_level=True)


def compile_proto(path: Path, root: Path, tmp_path: Path) -> descriptor_pb2.FileDescriptorProto:
    """protoc's own descriptor of `path` (its imports resolved from grpcio-tools' well-known
    types and googleapis-common-protos' google/api files)."""
    out = tmp_path / f"{path.stem}.pb"
    includes = [
        root,
        Path(grpc_tools.__file__).parent / "_proto",
        Path(annotations_pb2.__file__).parents[2],
    ]
    args = ["protoc", *(f"-I{p}" for p in includes), f"--descriptor_set_out={out}", str(path)]
    assert protoc.main(args) == 0, f"protoc could not compile {path}"
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    return files[-1]


def field_shape(field: descriptor_pb2.FieldDescriptorProto) -> tuple:
    return (field.number, field.type, field.label, field.type_name, field.proto3_optional)


def differences(
    ours: descriptor_pb2.FileDescriptorProto, reference: descriptor_pb2.FileDescriptorProto
) -> list[str]:
    """What of ours differs from the reference, as sentences (empty: compatible)."""
    found: list[str] = []
    if ours.package != reference.package:
        found.append(f"package {ours.package!r} is {reference.package!r} in the reference")

    def compare(
        mine: descriptor_pb2.DescriptorProto, theirs: descriptor_pb2.DescriptorProto, name: str
    ) -> None:
        their_fields = {f.name: f for f in theirs.field}
        for field in mine.field:
            if field.name not in their_fields:
                found.append(f"{name}.{field.name} is not in the reference")
            elif field_shape(field) != field_shape(their_fields[field.name]):
                found.append(
                    f"{name}.{field.name} is {field_shape(field)}, the reference's "
                    f"{field_shape(their_fields[field.name])} (number, type, label, type name, optional)"
                )
        their_nested = {n.name: n for n in theirs.nested_type}
        for nested in mine.nested_type:  # map entries
            if nested.name not in their_nested:
                found.append(f"{name}.{nested.name} is not in the reference")
            else:
                compare(nested, their_nested[nested.name], f"{name}.{nested.name}")

    theirs_by_name = {m.name: m for m in reference.message_type}
    for message in ours.message_type:
        if message.name not in theirs_by_name:
            found.append(f"message {message.name} is not in the reference")
        else:
            compare(message, theirs_by_name[message.name], message.name)

    def methods(file: descriptor_pb2.FileDescriptorProto) -> dict[str, set[tuple[str, str, str]]]:
        return {s.name: {(m.name, m.input_type, m.output_type) for m in s.method} for s in file.service}

    if methods(ours) != methods(reference):
        found.append(f"services {methods(ours)} differ from the reference's {methods(reference)}")
    return found


@pytest.fixture
def reference(tmp_path) -> descriptor_pb2.FileDescriptorProto:
    return compile_proto(REFERENCE, REFERENCE.parent, tmp_path)


@pytest.fixture
def ours(tmp_path) -> descriptor_pb2.FileDescriptorProto:
    return compile_proto(OURS, Path(settings.BASE_DIR), tmp_path)


def test_our_messages_and_service_match_pinecones_field_for_field(ours, reference):
    assert differences(ours, reference) == []
    assert {m.name for m in reference.message_type} - {m.name for m in ours.message_type} == LEFT_OUT


def test_the_committed_python_modules_are_generated_from_the_proto_as_it_is(tmp_path):
    root = Path(settings.BASE_DIR)
    outputs = [f"--{kind}_out={tmp_path}" for kind in ("python", "pyi", "grpc_python")]
    includes = [f"-I{root}", f"-I{Path(grpc_tools.__file__).parent / '_proto'}"]
    assert protoc.main(["protoc", *includes, *outputs, str(OURS)]) == 0

    generated = sorted((tmp_path / OURS.parent.relative_to(root)).iterdir())
    assert [p.name for p in generated] == ["db_data_pb2.py", "db_data_pb2.pyi", "db_data_pb2_grpc.py"]
    for path in generated:
        committed = OURS.parent / path.name
        assert committed.read_text() == path.read_text(), f"{committed.name} is stale: run `make grpc-proto`"


def test_a_changed_field_number_or_type_is_named(ours, reference):
    renumbered = descriptor_pb2.FileDescriptorProto()
    renumbered.CopyFrom(ours)
    vector = next(m for m in renumbered.message_type if m.name == "Vector")
    next(f for f in vector.field if f.name == "sparse_values").number = 5
    next(f for f in vector.field if f.name == "values").type = descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE

    found = differences(renumbered, reference)

    assert len(found) == 2
    assert found[0].startswith("Vector.values is (2, 1,") and found[1].startswith(
        "Vector.sparse_values is (5,"
    )
