"""`trtdeploy gpus`, `trtdeploy models`, `trtdeploy releases` and `trtdeploy schema`."""

from __future__ import annotations

import json

import click

from compiler.versions import parse_version

# The first release with the PyTorch backend as trtdeploy plans it (compiler/catalog/pytorch/backend.yaml).
PYTORCH_FIRST = parse_version("1.0.0")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--release", "release", default=None, metavar="VERSION",
              help="Precisions as this TensorRT-LLM release lists them (default: the newest known).")
def gpus(fmt: str, release: str | None) -> None:
    """List the GPU catalog: compute capability, memory, bandwidth, precisions."""
    from compiler import catalog
    from compiler.catalog.architectures import architecture_for_sm, support
    from compiler.catalog.releases import ReleaseNotSupported, newest_release, release_facts

    try:
        version = release_facts(release).exact if release else newest_release().version
    except ReleaseNotSupported as exc:
        raise click.BadParameter(str(exc), param_hint="--release") from None
    rows = [
        {
            "id": g.id, "name": g.name, "architecture": g.architecture, "compute_capability": g.compute_capability,
            "memory_gib": g.memory_gib, "memory_bandwidth_gbps": g.memory_bandwidth_gbps, "nvlink": g.nvlink,
            "p2p": g.p2p, "precisions": list(support(architecture_for_sm(g.sm), version).precisions),
            "aliases": list(g.aliases), "sources": dict(g.sources),
        }
        for g in catalog.gpus().values()
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'GPU':<16}{'arch':<10}{'SM':<5}{'memory':>8}{'GB/s':>7}  {'NVLink':<7}precisions")
    for row in rows:
        precisions = row["precisions"]
        assert isinstance(precisions, list)
        click.echo(f"{row['id']:<16}{row['architecture']:<10}{row['compute_capability']:<5}"
                   f"{row['memory_gib']:>6g}GB{row['memory_bandwidth_gbps']:>7g}  {'yes' if row['nvlink'] else 'no':<7}"
                   f"{' '.join(precisions)}")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def models(fmt: str) -> None:
    """List the model catalog: architecture facts and parameter counts."""
    from dataclasses import asdict

    from compiler import catalog

    entries = list(catalog.models().values())
    if fmt == "json":
        rows = [{"id": m.id, "hf_repo": m.hf_repo, **asdict(m.facts), "sources": list(m.sources)} for m in entries]
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    click.echo(f"{'model':<24}{'family':<9}{'params':>8}{'layers':>7}{'hidden':>7}{'heads':>6}{'kv':>4}{'inter':>7}"
               f"{'vocab':>8}{'max pos':>9}")
    for m in entries:
        f = m.facts
        click.echo(f"{m.id:<24}{f.family:<9}{f.parameters / 1e9:>7.1f}B{f.num_hidden_layers:>7}{f.hidden_size:>7}"
                   f"{f.num_attention_heads:>6}{f.num_key_value_heads:>4}{f.intermediate_size:>7}{f.vocab_size:>8}"
                   f"{f.max_position_embeddings:>9}")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def releases(fmt: str) -> None:
    """List the TensorRT-LLM releases whose facts are known, and what each plans on."""
    from compiler.catalog.pytorch_backend import engine_path
    from compiler.catalog.releases import known_releases

    rows: list[dict[str, object]] = [{"version": str(r.version), "date": r.date, "commit": r.commit,
             "engine_path": engine_path(r.version).state,
             "pytorch_backend": r.version.final >= PYTORCH_FIRST, "source": r.source} for r in known_releases()]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'release':<14}{'date':<12}{'engine path':<13}{'PyTorch backend':<16}commit")
    for row in rows:
        commit = str(row["commit"] or "-")
        click.echo(f"{row['version']:<14}{row['date'] or '-':<12}{row['engine_path']:<13}"
                   f"{'yes' if row['pytorch_backend'] else 'no':<16}{commit[:12]}")


@click.command()
def schema() -> None:
    """Print the spec's JSON Schema. Point editors at it with a first line
    `# yaml-language-server: $schema=<path to the saved schema>`."""
    from compiler.spec import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
