"""The ``landplan`` command.

Subcommands::

    landplan demo                    the whole job on the bundled sample
    landplan plan --project P --out O   the same for your own project
    landplan generate --scale S      write a generated district
    landplan validate PATH           check a project and list every problem

Exit codes: 0 success; 1 the input has problems (listed on stderr);
2 wrong usage; 3 a file or folder was not found or could not be written.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tomllib
from pathlib import Path

from . import __version__
from .errors import LandplanError, ValidationError

log = logging.getLogger("landplan")

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_IO = 0, 1, 2, 3


def _setup_logging(args) -> None:
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"
                                           if args.verbose else "%(message)s"))
    root = logging.getLogger("landplan")
    root.handlers[:] = [h for h in root.handlers if isinstance(h, logging.NullHandler)]
    root.addHandler(handler)
    root.setLevel(level)
    if args.quiet:
        os.environ["TQDM_DISABLE"] = "1"


def _read_mapping(path: str | None) -> tuple[dict | None, dict | None]:
    if not path:
        return None, None
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return data.get("mapping"), data.get("files")


def _shown(path: str) -> str:
    """A path, or a database URL with any password hidden."""
    from .db.connection import is_postgres_url, redact_url
    return redact_url(path) if is_postgres_url(path) else path


def cmd_validate(args) -> int:
    from .project import Project

    mapping, files = _read_mapping(args.mapping)
    project = Project.read(args.path, mapping=mapping, files=files, encoding=args.encoding,
                           repair=args.repair, schema=args.schema)
    print(f"{_shown(args.path)}: valid ({project!r})")
    print(project.summary().to_string())
    if len(project.repairs):
        print(f"\n{len(project.repairs)} geometries repaired:")
        print(project.repairs.to_string(index=False))
    if project.reprojected:
        print("\nreprojected to EPSG:4549: " + ", ".join(
            f"{k} (from {v})" for k, v in project.reprojected.items()))
    return EXIT_OK


def cmd_generate(args) -> int:
    from .datasets import write_district

    scale = args.scale
    n_towns = {"town": 1, "district": 5}.get(scale)
    if n_towns is None:
        try:
            n_towns = 5 * int(scale)
        except ValueError:
            print(f"landplan generate: --scale must be 'town', 'district' or a number of "
                  f"districts, not {scale!r}", file=sys.stderr)
            return EXIT_USAGE
    path = write_district(Path(args.out), n_towns=n_towns, seed=args.seed,
                          progress=not args.quiet)
    log.info("wrote %s", path)
    print(path)
    return EXIT_OK


def cmd_demo(args) -> int:
    from .demo import run_demo

    out = run_demo(Path(args.out), time_limit=args.time_limit, progress=not args.quiet)
    for name, path in out.items():
        print(f"{name}: {path}")
    return EXIT_OK


def cmd_plan(args) -> int:
    from .project import Project
    from .scenario import load_scenario
    from .workflow import plan_project

    mapping, files = _read_mapping(args.mapping)
    project = Project.read(args.project, mapping=mapping, files=files, encoding=args.encoding,
                           repair=args.repair, schema=args.schema)
    results = plan_project(project, load_scenario(args.scenario), out=Path(args.out),
                           time_limit=args.time_limit, include_personal=args.include_personal,
                           progress=not args.quiet)
    log.info("%r", results.plan)
    for name, path in results.outputs.items():
        print(f"{name}: {path}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    parser = argparse.ArgumentParser(
        prog="landplan", parents=[common],
        description="Rural land-consolidation planning: homestead survey, new-community sites, "
                    "construction-land ledger, farmland transfer, offline maps, county GIS exports.",
        epilog="Exit codes: 0 ok, 1 problems in the input, 2 usage, 3 file not found.")
    parser.add_argument("--version", action="version", version=f"landplan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common], help="run the whole job on the bundled sample",
                       description="Load, validate and plan the bundled sample town; write the "
                                   "outputs to --out.")
    p.add_argument("--out", default="outputs", help="output folder (default: outputs)")
    p.add_argument("--time-limit", type=float, default=30.0,
                   help="seconds for the optimiser (default 30)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("plan", parents=[common], help="plan a project and write the outputs",
                       description="Survey, site, consolidate and account a project with a "
                                   "scenario; write the meeting map, the Excel summary, the static "
                                   "maps and the county GIS export to --out.")
    p.add_argument("--project", required=True,
                   help="project .gpkg, folder of layer files, or PostGIS URL")
    p.add_argument("--scenario", default=None,
                   help="scenario .toml (default: the 2008 Nanhu plan)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="seconds for the optimiser (default 60)")
    p.add_argument("--encoding", help="text encoding of shapefiles without .cpg, e.g. gbk")
    p.add_argument("--mapping", help="TOML file mapping your files and field names onto landplan's")
    p.add_argument("--repair", action="store_true", help="repair invalid geometries (listed)")
    p.add_argument("--schema", default="landplan", help="database schema of a PostGIS project")
    p.add_argument("--include-personal", action="store_true",
                   help="let household names and ID numbers into the outputs")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("generate", parents=[common], help="write a generated Nanhu-like district",
                       description="Write a deterministic synthetic district (the same seed gives "
                                   "the same files, byte for byte).")
    p.add_argument("--scale", default="district",
                   help="'town' (one town), 'district' (five towns, the default) or a number of "
                        "districts")
    p.add_argument("--seed", type=int, default=2008, help="random seed (default 2008)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("validate", parents=[common], help="check a project and list every problem",
                       description="Read a GeoPackage or a folder of layer files, validate every "
                                   "layer, and list every problem with its rows and fix.")
    p.add_argument("path", help="project .gpkg, folder of shapefiles/GeoPackages, or PostGIS URL "
                                "postgresql://user@host/db (password from PGPASSWORD or ~/.pgpass)")
    p.add_argument("--schema", default="landplan", help="database schema of a PostGIS project")
    p.add_argument("--encoding", help="text encoding of shapefiles without .cpg, e.g. gbk")
    p.add_argument("--mapping", help="TOML file: [mapping.LAYER] YOUR_COLUMN = \"landplan_column\" "
                                     "and [files] LAYER = \"file.shp\"")
    p.add_argument("--repair", action="store_true",
                   help="repair invalid geometries (each repair is listed)")
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``landplan`` command; return its exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 problems in the input, 2 usage, 3 file not found.

    Examples
    --------
    >>> main(["validate", "no/such/project.gpkg", "--quiet"])
    3
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(args)
    try:
        return args.func(args)
    except ValidationError as exc:
        print(f"landplan {args.command}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except LandplanError as exc:
        print(f"landplan {args.command}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError) as exc:
        print(f"landplan {args.command}: {exc}", file=sys.stderr)
        return EXIT_IO
    except BrokenPipeError:  # output piped into `head`
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
