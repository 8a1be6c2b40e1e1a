"""Object3D (point clouds, lidar scenes, 3-D files) and Molecule (structure files, rdkit) logged in real runs."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from media_util import check_ref, log_and_read

import runstore


@pytest.mark.parametrize("cols", [3, 4, 6])
def test_point_cloud_round_trip(cols):
    pts = np.random.default_rng(cols).random((20, cols))
    run, row, summary = log_and_read({"pc": runstore.Object3D(pts, caption="cloud")})
    ref = row["pc"]
    assert ref["caption"] == "cloud" and ref["path"].endswith(".pts.json")
    data = check_ref(ref, run)
    assert json.loads(data) == pts.tolist()
    # compact, as wandb 0.31 writes it (no value here is below 1e-4, where float text differs from
    # Python's; test_media_bytes.py pins those bytes against wandb's own)
    assert data == json.dumps(pts.tolist(), separators=(",", ":")).encode()
    assert summary["pc"] == ref


def test_lidar_scene_with_boxes_and_vectors():
    box = runstore.box3d(
        center=(1, 2, 3), size=(2, 4, 6), orientation=(1, 0, 0, 0), color=(255, 0, 0), label="car", score=0.75
    )
    assert sorted(map(tuple, box["corners"])) == sorted(
        (x, y, z) for x in (0.0, 2.0) for y in (0.0, 4.0) for z in (0.0, 6.0)
    )
    obj = runstore.Object3D.from_point_cloud(
        points=np.zeros((5, 3)), boxes=[box], vectors=np.array([{"start": [0, 0, 0], "end": [1, 1, 1]}])
    )
    scene = {"type": "lidar/beta", "points": np.ones((2, 6)), "boxes": np.array([box])}
    run, row, _ = log_and_read({"scene": obj, "dict": runstore.Object3D(scene)})
    s = json.loads(check_ref(row["scene"], run))
    assert s["type"] == "lidar/beta" and s["points"] == [[0.0] * 3] * 5
    assert (
        s["boxes"][0]["label"] == "car"
        and s["boxes"][0]["score"] == 0.75
        and s["boxes"][0]["color"] == [255, 0, 0]
    )
    assert s["vectors"] == [{"start": [0, 0, 0], "end": [1, 1, 1]}]
    d = json.loads(check_ref(row["dict"], run))
    assert d["vectors"] == [] and len(d["boxes"]) == 1


def test_box3d_rotation():
    # 90° about z: the box's x extent becomes y extent
    q = (np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4))
    c = np.array(runstore.box3d(center=(0, 0, 0), size=(4, 2, 2), orientation=q, color=(0, 1, 0))["corners"])
    assert np.allclose(np.abs(c).max(axis=0), [1, 2, 1])
    with pytest.raises(ValueError, match="non-zero quaternion"):
        runstore.box3d(center=(0, 0, 0), size=(1, 1, 1), orientation=(0, 0, 0, 0), color=(0, 0, 0))


@pytest.mark.parametrize("ext", ["obj", "gltf", "glb", "stl", "babylon", "pts.json"])
def test_object3d_files_and_streams(tmp_path, ext):
    p = tmp_path / f"model.{ext}"
    p.write_bytes(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with open(p, "rb") as fh:
        from_handle = runstore.Object3D(fh)
    objs = [
        runstore.Object3D(str(p)),
        runstore.Object3D.from_file(io.StringIO("v 0 0 0\n"), file_type=ext),
        from_handle,
    ]
    run, row, _ = log_and_read({"one": objs[0], "many": objs})
    assert row["one"]["path"].endswith("." + ext)
    assert check_ref(row["one"], run) == p.read_bytes()
    many = row["many"]
    assert many["_type"] == "object3D" and many["count"] == 3 and len(many["objects"]) == 3
    assert all(not f.startswith("media/") and f.endswith("." + ext) for f in many["filenames"])
    assert check_ref(many["objects"][1], run) == b"v 0 0 0\n"


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "words"),
    [
        ((np.zeros((5, 5)),), {}, ValueError, "N×3"),
        ((np.zeros(3),), {}, ValueError, "N×3"),
        (({"type": "mesh"},), {}, ValueError, "lidar/beta"),
        (({"type": "lidar/beta", "boxes": [{"corners": [[0, 0, 0]]}]},), {}, ValueError, "8 points"),
        (({"type": "lidar/beta", "vectors": [{"start": [0, 0, 0]}]},), {}, ValueError, "vectors"),
        (("model.fbx",), {}, ValueError, "not a supported 3-D file"),
        (("missing.obj",), {}, ValueError, "not found"),
        ((io.StringIO("x"),), {}, ValueError, "file_type"),
        ((42,), {}, TypeError, "point cloud"),
    ],
)
def test_object3d_bad_inputs(args, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        runstore.Object3D(*args, **kwargs)


# --- Molecule -------------------------------------------------------------------------------------------------------

PDB = "ATOM      1  N   ALA A   1      11.104   6.134  -6.504  1.00  0.00           N\nEND\n"


@pytest.mark.parametrize("ext", sorted(runstore.Molecule.SUPPORTED_TYPES))
def test_molecule_files(tmp_path, ext):
    p = tmp_path / f"m.{ext}"
    p.write_text(PDB)
    run, row, _ = log_and_read({"mol": runstore.Molecule(str(p), caption="ala")})
    ref = row["mol"]
    assert ref["caption"] == "ala" and ref["path"].endswith("." + ext)
    assert check_ref(ref, run) == p.read_bytes()


def test_molecule_stream_and_list(tmp_path):
    mols = [
        runstore.Molecule(io.StringIO(PDB), file_type="pdb", caption="a"),
        runstore.Molecule(io.StringIO(PDB.replace("ALA", "GLY")), file_type="pdb", caption="b"),
    ]
    run, row, _ = log_and_read({"mols": mols})
    ref = row["mols"]
    assert ref["_type"] == "molecule" and ref["count"] == 2 and ref["captions"] == ["a", "b"]
    assert [r.endswith(".pdb") for r in ref["filenames"]] == [True, True]


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "words"),
    [
        (("m.xyz",), {}, ValueError, "not a supported file"),
        (("CCO",), {}, ValueError, "from_smiles"),
        (("missing.pdb",), {}, ValueError, "not found"),
        ((io.StringIO(PDB),), {}, ValueError, "file_type"),
        ((io.StringIO(PDB),), {"file_type": "xyz"}, ValueError, "file_type"),
        ((3.5,), {}, TypeError, "file path"),
    ],
)
def test_molecule_bad_inputs(args, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        runstore.Molecule(*args, **kwargs)


def test_molecule_from_smiles_and_rdkit(tmp_path):
    Chem = pytest.importorskip("rdkit.Chem", reason="Molecule.from_smiles/from_rdkit need rdkit")
    a = runstore.Molecule.from_smiles("CCO", caption="ethanol")
    b = runstore.Molecule.from_smiles("CCO")
    assert a._bytes == b._bytes  # fixed embedding seed: same molecule, same file, stored once
    sdf = tmp_path / "m.sdf"
    w = Chem.SDWriter(str(sdf))
    w.write(Chem.MolFromSmiles("c1ccccc1"))
    w.close()
    c = runstore.Molecule.from_rdkit(str(sdf), convert_to_3d_and_optimize=False)
    run, row, _ = log_and_read({"a": a, "c": c})
    assert row["a"]["caption"] == "ethanol" and row["a"]["path"].endswith(".pdb")
    text = check_ref(row["a"], run).decode()
    assert text.count("HETATM") == 9  # C2H6O with hydrogens added
    assert check_ref(row["c"], run).decode().count("HETATM") == 6
    with pytest.raises(ValueError, match="SMILES"):
        runstore.Molecule.from_smiles("not(a smiles")
    with pytest.raises(ValueError, match="mol"):
        runstore.Molecule.from_rdkit(str(tmp_path / "x.pdb"))
