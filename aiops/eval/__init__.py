"""The evaluation suite: how well does a model fill the deploy form?

- `scenarios`: the scenario file's schema and constraint language, loading and selection;
- `scoring`: checking one turn's form against its constraints, and the aggregate metrics;
- `runner`: running scenarios through the real service pipeline (`aiops.service.Generation`);
- `report`: the JSON report and the printed table;
- `instant`: the instant path alone (`--instant-only`): answered turns and their precision;
- `__main__`: the command line, `python -m aiops.eval --base-url URL --model NAME`.

See README.md ("Evaluate a model") for how to run it and read the scores, and
eval/README.md for the scenarios.
"""
