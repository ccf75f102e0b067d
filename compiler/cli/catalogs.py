"""`trtdeploy gpus`, `trtdeploy models` and `trtdeploy schema`."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def gpus(fmt: str) -> None:
    """List the GPU catalog: compute capability, memory, bandwidth, precisions."""
    from compiler import catalog

    matrix = catalog.support()
    rows = [
        {
            "id": g.id, "name": g.name, "architecture": g.architecture, "compute_capability": g.compute_capability,
            "memory_gib": g.memory_gib, "memory_bandwidth_gbps": g.memory_bandwidth_gbps, "nvlink": g.nvlink,
            "p2p": g.p2p, "precisions": list(matrix.precisions.get(g.architecture, ())), "aliases": list(g.aliases),
            "sources": dict(g.sources),
        }
        for g in catalog.gpus().values()
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'GPU':<16}{'arch':<10}{'SM':<5}{'memory':>8}{'GB/s':>7}  {'NVLink':<7}precisions")
    for row in rows:
        click.echo(f"{row['id']:<16}{row['architecture']:<10}{row['compute_capability']:<5}"
                   f"{row['memory_gib']:>6g}GB{row['memory_bandwidth_gbps']:>7g}  {'yes' if row['nvlink'] else 'no':<7}"
                   f"{' '.join(row['precisions'])}")


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
def schema() -> None:
    """Print the spec's JSON Schema. Point editors at it with a first line
    `# yaml-language-server: $schema=<path to the saved schema>`."""
    from compiler.spec import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
