"""wandb.Molecule: a structure file (pdb, sdf, cif, …), an rdkit molecule or a SMILES string →
`media/molecule/…` + a `molecule-file` reference."""

from __future__ import annotations

import os
from typing import Any

from ._util import FileMedia, captions, from_stream, source_file
from .base import BindContext, Media

# Fixed so the same molecule embeds to the same coordinates, hence the same file, stored once.
_EMBED_SEED = 0xF00D


def _rdkit() -> tuple[Any, Any]:
    try:
        from rdkit import Chem
        from rdkit.Chem import AllChem
    except ImportError:
        raise ImportError("Molecule.from_rdkit/from_smiles need rdkit: pip install rdkit") from None
    return Chem, AllChem


class Molecule(FileMedia):
    SUPPORTED_TYPES = {"pdb", "pqr", "mmcif", "mcif", "cif", "sdf", "sd", "gro", "mol2", "mmtf"}
    SUPPORTED_RDKIT_TYPES = {"mol", "sdf"}
    _log_type = "molecule-file"
    _kind = "molecule"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self._caption = caption
        self._path: str | None = None
        self._bytes = b""
        data_or_path, raw, ext = from_stream(data_or_path, kwargs, self.SUPPORTED_TYPES, "Molecule")
        if ext is not None:
            self._bytes, self._ext = raw, ext
        elif isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            ext = os.path.splitext(path)[1][1:].lower()
            if ext not in self.SUPPORTED_TYPES:
                hint = " (use Molecule.from_smiles for a SMILES string)" if not ext else ""
                raise ValueError(
                    f"Molecule: {path!r} is not a supported file; use one of "
                    f"{', '.join(sorted(self.SUPPORTED_TYPES))}{hint}"
                )
            self._path, self._ext = source_file(path, "Molecule"), ext
        else:
            raise TypeError(
                f"Molecule accepts a file path or a file object, not {type(data_or_path).__name__}; "
                "use Molecule.from_rdkit for rdkit molecules"
            )

    @classmethod
    def from_rdkit(
        cls,
        data_or_path: Any,
        caption: str | None = None,
        convert_to_3d_and_optimize: bool = True,
        mmff_optimize_molecule_max_iterations: int = 200,
    ) -> Molecule:
        Chem, AllChem = _rdkit()
        if isinstance(data_or_path, (str, os.PathLike)):
            path = source_file(data_or_path, "Molecule.from_rdkit")
            ext = os.path.splitext(path)[1][1:].lower()
            if ext not in cls.SUPPORTED_RDKIT_TYPES:
                raise ValueError(
                    f"Molecule.from_rdkit reads {sorted(cls.SUPPORTED_RDKIT_TYPES)} files, not {path!r}"
                )
            if ext == "sdf":
                with Chem.SDMolSupplier(path) as supplier:
                    mol = next(iter(supplier), None)  # the first molecule of the file, as wandb
            else:
                mol = Chem.MolFromMolFile(path)
            if mol is None:
                raise ValueError(f"Molecule.from_rdkit: rdkit could not parse {path!r}")
        elif isinstance(data_or_path, Chem.rdchem.Mol):
            mol = data_or_path
        else:
            raise TypeError("Molecule.from_rdkit accepts an rdkit.Chem.Mol or a .mol/.sdf path")
        if convert_to_3d_and_optimize:
            mol = Chem.AddHs(mol)
            if AllChem.EmbedMolecule(mol, randomSeed=_EMBED_SEED) != 0:
                raise ValueError(
                    "Molecule.from_rdkit: rdkit could not embed the molecule in 3-D; "
                    "pass convert_to_3d_and_optimize=False"
                )
            AllChem.MMFFOptimizeMolecule(mol, maxIters=mmff_optimize_molecule_max_iterations)
        m = cls.__new__(cls)
        m._caption, m._path, m._ext = caption, None, "pdb"
        m._bytes = Chem.MolToPDBBlock(mol).encode("utf-8")  # pdb: the format the viewer reads
        return m

    @classmethod
    def from_smiles(
        cls,
        data: str,
        caption: str | None = None,
        sanitize: bool = True,
        convert_to_3d_and_optimize: bool = True,
        mmff_optimize_molecule_max_iterations: int = 200,
    ) -> Molecule:
        Chem, _ = _rdkit()
        mol = Chem.MolFromSmiles(data, sanitize=sanitize)
        if mol is None:
            raise ValueError(f"Molecule.from_smiles: {data!r} is not a valid SMILES string")
        return cls.from_rdkit(
            mol,
            caption=caption,
            convert_to_3d_and_optimize=convert_to_3d_and_optimize,
            mmff_optimize_molecule_max_iterations=mmff_optimize_molecule_max_iterations,
        )

    @classmethod
    def bind_list(cls, items: list[Media], ctx: BindContext, key: str, step: int) -> Any:
        refs = [m.bind(ctx, key, step) for m in items]
        return {
            "_type": "molecule",
            "filenames": [r["path"] for r in refs],
            "count": len(refs),
            "captions": captions(items) or False,
        }
