"""``model-archiver bench``: the cost/performance table of an archive in the real server."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from model_archiver.cli.output import emit_json, handle_errors, setup_logging

EXAMPLES = """
\b
Examples:
  model-archiver bench digits.mar --input 3.png --configs 1x1,1x2,2x1 --duration 5
  model-archiver bench resnet-152.mar --input kitten.jpg --configs auto --hourly-price 0.096 \\
      --target-rps 200 --max-p90-ms 500 --out bench-out/
"""


@click.command("bench", epilog=EXAMPLES)
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--input", "-i", "inputs", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A request body file; repeat to send several in turn.")
@click.option("--configs", default="auto", show_default=True,
              help="WORKERSxOMP_THREADS list, e.g. 1x1,1x2,2x1; 'auto' = 1x1 and every split of the cores.")
@click.option("--batch-sizes", default="1", show_default=True, help="Comma-separated server batch sizes.")
@click.option("--duration", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
              help="Seconds of the latency phase and of the throughput phase, per configuration.")
@click.option("--concurrency", type=click.IntRange(min=0), default=0, show_default=True,
              help="Throughput clients; at least 2 x workers x batch size is always used.")
@click.option("--max-batch-delay", type=click.IntRange(min=0), default=10, show_default=True,
              help="Milliseconds the server waits to fill a batch.")
@click.option("--hourly-price", type=click.FloatRange(min=0), help="USD per hour of this machine, for the cost columns  [default: none: no costs]")
@click.option("--target-rps", type=click.FloatRange(min=0, min_open=True),
              help="Capacity planning: requests/s to serve behind a load balancer  [default: none: no planning]")
@click.option("--max-p90-ms", type=click.FloatRange(min=0, min_open=True),
              help="Capacity planning: only configurations with this p90 latency or better  [default: no bound]")
@click.option("--timeout", "response_timeout", type=click.IntRange(min=1), default=300, show_default=True,
              help="Seconds the server allows a prediction.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-out"), show_default=True,
              help="Folder for bench.md, bench.csv, bench.json and bench.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as one JSON object on stdout.")
@click.option("-v", "--verbose", count=True, help="Show the library's log.")
@handle_errors
def bench(archive: Path, inputs: tuple[Path, ...], configs: str, batch_sizes: str, duration: float, concurrency: int,
          max_batch_delay: int, hourly_price: Optional[float], target_rps: Optional[float],
          max_p90_ms: Optional[float], response_timeout: int, out: Path, as_json: bool, verbose: int) -> None:
    """Measure ARCHIVE in a fresh Multi Model Server per configuration.

    For each WORKERSxOMP_THREADS and batch size: latency with one client
    (p50/p90/p99) and throughput with many keep-alive clients, the workers'
    RSS and CPU use, and $ per 100k requests at --hourly-price. The load
    generator's own ceiling (against an echo archive) is printed; rows within
    20% of it are flagged. Exits 7 when a server or configuration fails.
    """
    from model_archiver.server import bench as bench_lib
    from model_archiver.server.report import PLOT_HINT, to_json, to_markdown, write_reports
    from model_archiver.server.smoke import inputs_from_files

    setup_logging(quiet=as_json and not verbose, verbose=verbose)
    grid = bench_lib.parse_configs(configs)
    sizes = bench_lib.parse_batch_sizes(batch_sizes)
    bodies = [(item.body, item.content_type) for item in inputs_from_files(list(inputs))]
    steps = len(grid) * len(sizes) * 4 + 1
    with click.progressbar(length=steps, label="bench", file=click.get_text_stream("stderr"),
                           item_show_func=lambda message: message) as bar:
        def progress(message: str) -> None:
            bar.update(1, message)

        result = bench_lib.run_bench(archive, bodies, configs=grid, batch_sizes=sizes, duration=duration,
                                     concurrency=concurrency, max_batch_delay_ms=max_batch_delay,
                                     hourly_price=hourly_price, target_rps=target_rps, max_p90_ms=max_p90_ms,
                                     response_timeout=response_timeout, progress=progress)
    written = write_reports(result, out)
    if as_json:
        import json

        emit_json(json.loads(to_json(result)))
        return
    click.echo(to_markdown(result))
    click.echo("wrote " + ", ".join(str(path) for path in written.values()))
    if "png" not in written:
        click.echo(f"no plot: matplotlib is not installed ({PLOT_HINT})")
