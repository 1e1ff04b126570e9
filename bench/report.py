"""The Markdown summary of a bench report (bench/results/latest.json → latest.md)."""

# ruff: noqa: E501  (Markdown table rows are long)

from __future__ import annotations

from typing import Any


def fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def mark(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "NOT met")


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# AIops bench — {report['profile']} run, {report['finished_at']}",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), Python {m['python']}, "
        f"gunicorn {m['gunicorn_workers']} worker × {m['gunicorn_threads']} threads; "
        f"load average at start {', '.join(fmt(x, 2) for x in m['loadavg_at_start'])}. "
        f"Took {fmt(report['seconds'], 0)} s. Medians over alternating rounds; ratio = AIops ÷ its floor.",
        "",
    ]
    o = report.get("overhead")
    if o:
        a, f = o["summary"]["aiops"], o["summary"]["floor"]
        lines += [
            "## 1. Overhead (model answers instantly)",
            "",
            "| | AIops /gen | floor | ratio |",
            "|---|---|---|---|",
            f"| p50 latency (ms) | {fmt(a['p50_ms_median_of_rounds'], 2)} | {fmt(f['p50_ms_median_of_rounds'], 2)} | "
            f"**{fmt(o['p50_ratio_median_of_rounds'], 2)}** (goal ≤ {o['goal_p50_ratio']}: {mark(o['goal_met'])}) |",
            f"| p90 latency (ms) | {fmt(a['p90_ms_median_of_rounds'], 2)} | {fmt(f['p90_ms_median_of_rounds'], 2)} | "
            f"{fmt(o['p90_ratio_median_of_rounds'], 2)} |",
            f"| requests measured | {a['requests']} | {f['requests']} | |",
            "",
            f"Overhead at p50: {fmt(o['p50_overhead_ms'], 2)} ms per request.",
            "",
        ]
    r = (report.get("inprocess") or {}).get("round_trips")
    if r:
        a, f = r["aiops"], r["floor"]
        lines += [
            "## 2. Round trips per request (in process, pymongo command monitoring)",
            "",
            "| | AIops | floor | goal |",
            "|---|---|---|---|",
            f"| store commands per request | {fmt_counts(a['store_commands_per_request'])} | "
            f"{fmt_counts(f['store_commands_per_request'])} | ≤ 1 read + 1 write: {mark(r['goal_met'])} |",
            f"| model calls per request | {fmt(r['llm_calls_per_request_max'], 0)} (max), "
            f"model log {r['model_requests_logged']} for {r['model_requests_expected_if_one_each']} requests | 1 | 1 |",
            f"| CPU per request (ms, median) | {fmt(a['cpu_ms_median'], 2)} | {fmt(f['cpu_ms_median'], 2)} | "
            f"ratio {fmt(r['cpu_ratio'], 2)} |",
            f"| wall per request in process (ms, median) | {fmt(a['wall_ms_median'], 2)} | {fmt(f['wall_ms_median'], 2)} | "
            f"ratio {fmt(r['wall_ratio'], 2)} |",
            "",
            f"First request of a process: {fmt_counts(r['first_request_commands'])} "
            f"({fmt(r['first_request_wall_ms'], 0)} ms; indexes are created once).",
            "",
        ]
    c = report.get("cold_start")
    if c:
        fa = c["first_answer_ms"]
        it = c["importtime"]
        lines += [
            "## 3. Cold start",
            "",
            "| | AIops | bare | floor | AIops ÷ bare | AIops ÷ floor |",
            "|---|---|---|---|---|---|",
            f"| process start → first answered request (ms) | {fmt(fa['aiops']['median'], 0)} | "
            f"{fmt(fa['bare']['median'], 0)} | {fmt(fa['floor']['median'], 0)} | "
            f"**{fmt(c['ratio_vs_bare'], 2)}** (goal ≤ {c['goal_ratio']}: {mark(c['goal_met'])}) | "
            f"{fmt(c.get('ratio_vs_floor'), 2)} |",
            f"| … of which: until the port is open (source imported) | {fmt(c['listening_ms']['aiops']['median'], 0)} | "
            f"{fmt(c['listening_ms']['bare']['median'], 0)} | {fmt(c['listening_ms']['floor']['median'], 0)} | | |",
            f"| … of which: open port → first answer (worker, first request) | {fmt(c['answer_after_listening_ms']['aiops'], 0)} | "
            f"{fmt(c['answer_after_listening_ms']['bare'], 0)} | {fmt(c['answer_after_listening_ms']['floor'], 0)} | | |",
            f"| `-X importtime` total (ms): `import handler` | {fmt(it['handler']['total_ms_median'], 0)} | "
            f"{fmt(it['bare']['total_ms_median'], 0)} | | {fmt(c['importtime_ratio_handler_vs_bare'], 2)} | |",
            f"| … plus what the first request imports | {fmt(it['handler_and_first_request_imports']['total_ms_median'], 0)} | "
            f"{fmt(it['bare']['total_ms_median'], 0)} | | {fmt(c['importtime_ratio_full_vs_bare'], 2)} | |",
            "",
            f"Runs (ms): AIops {fa['aiops']['runs']}, bare {fa['bare']['runs']}, floor {fa['floor']['runs']}.",
            "",
            *cold_breakdown_lines(c.get("first_request_in_process") or {}),
            "Slowest first-level imports (handler + first request): "
            + ", ".join(
                f"{x['module']} {fmt(x['cumulative_ms'], 0)} ms"
                for x in it["handler_and_first_request_imports"]["top_level"][:6]
            ),
            "",
        ]
    t = report.get("tokens")
    if t:
        ex = t["examples"]
        conv = t["conversation"]
        sp = t["static_prefix"]
        comp = t["completion"]
        g = t["goals"]
        lines += [
            f"## 4. Tokens ({t['tokenizer']}{'' if t['exact'] else ', an estimate'})",
            "",
            "| prompt | tokens | + response schema (approx.) | static instructions |",
            "|---|---|---|---|",
        ]
        for name, e in ex.items():
            lines.append(
                f"| {name} | {e['prompt_tokens']} | {e['prompt_tokens_with_schema']} | {e['static_instructions_tokens']} |"
            )
        lines += [
            "",
            f"- mysql example: {g['mysql_prompt_tokens']['value']} prompt tokens (goal ≤ "
            f"{g['mysql_prompt_tokens']['goal']}: {mark(g['mysql_prompt_tokens']['met'])}).",
            f"- 10-turn conversation: prompt tokens per turn {[x['prompt_tokens'] for x in conv['turns']]}; "
            f"history grows {fmt(conv['history_growth_median'], 0)} tokens per turn (median; max "
            f"{conv['history_growth_max']}; goal ≤ {g['history_tokens_per_turn']['goal']}: "
            f"{mark(g['history_tokens_per_turn']['met'])}).",
            f"- Static prefix: {sp['distinct_system_prompts']} distinct system prompt(s) over "
            f"{sp['requests_compared']} requests (byte-identical: {sp['byte_identical']}), "
            f"{sp['tokens']} tokens (providers cache prefixes from {sp['openai_cache_minimum_tokens']} tokens); "
            f"prefix shared with the previous turn: {conv['shared_prefix_tokens_with_previous_turn']} tokens.",
            f"- Completion for the follow-up: patch {comp['patch_tokens']} tokens, the same patch as "
            f"the strict schema makes the model write it {comp['patch_strict_schema_tokens']} "
            f"(×{fmt(comp['strict_over_patch'], 2)}), as a list of {{field, value}} items "
            f"{comp['patch_as_list_tokens']}, full form {comp['full_form_tokens']} "
            f"(×{fmt(comp['full_over_patch'], 2)}).",
            "",
        ]
    tp = report.get("throughput")
    if tp:
        lines += [
            "## 5. Throughput (model takes 200 ms) and memory",
            "",
            "| concurrency | threads | AIops rps | floor rps | ideal rps | AIops ÷ ideal | floor ÷ ideal | AIops ÷ floor | AIops p50 / p90 ms | errors |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in tp["levels"]:
            a, f = row["aiops"], row["floor"]
            errs = sum(a["errors"].values()) + sum(f["errors"].values())
            lines.append(
                f"| {row['concurrency']} | {row['threads']} | {fmt(a['rps_median'])} | {fmt(f['rps_median'])} | {fmt(row['ideal_rps'], 0)} | "
                f"{fmt(row['aiops_vs_ideal'], 2)} | {fmt(row['floor_vs_ideal'], 2)} | {fmt(row['aiops_vs_floor'], 2)} | "
                f"{fmt(a['p50_ms'], 0)} / {fmt(a['p90_ms'], 0)} | {errs} |"
            )
        mem = tp["memory"]
        lines += [
            "",
            f"Memory after {mem['aiops']['requests_served']} requests: AIops peak RSS "
            f"{mem['aiops']['after_requests']['peak_rss_kib'] / 1024:.1f} MiB (after its first request "
            f"{mem['aiops']['after_first_request']['rss_kib'] / 1024:.1f} MiB), floor "
            f"{mem['floor']['after_requests']['peak_rss_kib'] / 1024:.1f} MiB; ratio "
            f"{fmt(tp['memory_peak_ratio_vs_floor'], 2)} (PSS, shared pages split: AIops "
            f"{mem['aiops']['after_requests']['pss_kib'] / 1024:.1f} MiB, floor "
            f"{mem['floor']['after_requests']['pss_kib'] / 1024:.1f} MiB, ratio {fmt(tp.get('memory_pss_ratio_vs_floor'), 2)}).",
            "",
        ]
    lines += instant_section(report.get("instant"))
    p = (report.get("inprocess") or {}).get("profile") or {}
    wall, cpu = p.get("wall") or {}, p.get("cpu") or {}
    if wall or cpu:
        lines += ["## Profile (in-process requests of section 2, model instant)", ""]
        floor_part = p.get("cpu_floor") or {}
        for name, part in (
            ("wall (pyinstrument)", wall),
            ("CPU (py-spy)", cpu),
            ("floor CPU", floor_part),
        ):
            if part.get("skipped"):
                lines.append(f"- {name}: skipped: {part['skipped']}")
        lines.append("")
    if wall and not wall.get("skipped"):
        lines += [
            f"Wall time, pyinstrument, {wall['requests']} requests, {fmt(wall['wall_ms_per_request'], 2)} ms "
            "each (profiler included). The time of stdlib and builtin frames is charged to the "
            "library or module that called them.",
            "",
            "| where the wall time goes | share |",
            "|---|---|",
        ]
        lines += [
            f"| {g['group']} | {g['share'] * 100:.1f}% |" for g in wall["self_time_by_group"][:10]
        ]
        lines.append("")
    if cpu and not cpu.get("skipped"):
        unprofiled = ((report.get("inprocess") or {}).get("round_trips") or {}).get("aiops", {})
        per = unprofiled.get("cpu_ms_median") or cpu["cpu_ms_per_request"]
        lines += [
            f"CPU time, {cpu['sampler']}, {cpu['requests']} requests ({cpu['samples']} samples); "
            f"ms = share × {fmt(per, 2)} ms, the CPU per request measured without a profiler "
            f"(under py-spy: {fmt(cpu['cpu_ms_per_request'], 2)} ms).",
            "",
            "| where the CPU goes (library) | ms / request | share |",
            "|---|---|---|",
        ]
        lines += [
            f"| {g['group']} | {g['share'] * per:.2f} | {g['share'] * 100:.1f}% |"
            for g in cpu["self_time_by_group"][:10]
        ]
        floor_cpu = p.get("cpu_floor") or {}
        floor_per = (
            ((report.get("inprocess") or {}).get("round_trips") or {}).get("floor") or {}
        ).get("cpu_ms_median")
        if floor_cpu and not floor_cpu.get("skipped") and floor_per:
            aiops_groups = {g["group"]: g["share"] * per for g in cpu["self_time_by_group"]}
            floor_groups = {
                g["group"]: g["share"] * floor_per for g in floor_cpu["self_time_by_group"]
            }
            lines += [
                "",
                f"The same for the floor ({fmt(floor_per, 2)} ms CPU per request, {floor_cpu['samples']} samples): where AIops spends more.",
                "",
                "| library | AIops ms | floor ms | AIops − floor |",
                "|---|---|---|---|",
            ]
            order = sorted(
                set(aiops_groups) | set(floor_groups),
                key=lambda g: -(aiops_groups.get(g, 0) - floor_groups.get(g, 0)),
            )
            for group in order:
                a_ms, f_ms = aiops_groups.get(group, 0.0), floor_groups.get(group, 0.0)
                lines.append(f"| {group} | {a_ms:.2f} | {f_ms:.2f} | {a_ms - f_ms:+.2f} |")
        lines += [
            "",
            "| CPU by innermost AIops module on the stack | ms / request | share |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{x['module']}` | {x['share'] * per:.2f} | {x['share'] * 100:.1f}% |"
            for x in cpu["time_by_aiops_module"][:10]
        ]
        lines += ["", "| AIops function, CPU inclusive | ms / request | share |", "|---|---|---|"]
        lines += [
            f"| `{x['function']}` | {x['share'] * per:.2f} | {x['share'] * 100:.1f}% |"
            for x in cpu["aiops_functions_inclusive"][:16]
        ]
        lines += ["", "| top CPU self time | share |", "|---|---|"]
        lines += [
            f"| `{x['function']}` | {x['share'] * 100:.1f}% |"
            for x in cpu["self_time_top_functions"][:12]
        ]
        lines.append("")
    if report.get("errors"):
        lines += ["## Phases that failed", ""] + [
            f"- {k}: {v}" for k, v in report["errors"].items()
        ]
    return "\n".join(lines)


WRAPPERS = {"run", "Generation.run", "ask", "Generation.ask", "call", "Generation.call", "complete"}


def cold_breakdown_lines(b: dict[str, Any]) -> list[str]:
    if not b:
        return []
    lines = [
        f"In a fresh process (in process, no HTTP; pymongo is already imported there by the command listener): "
        f"`import handler` {fmt(b['import_handler_ms'], 0)} ms, "
        f"then the first request {fmt(b['first_request_ms'], 0)} ms ({fmt_counts(b['first_request_commands'])}), "
        f"the second {fmt(b['second_request_ms'], 1)} ms: the first request pays "
        f"{fmt(b['first_request_penalty_ms'], 0)} ms of one-time work.",
    ]
    if b.get("aiops_functions_ms"):
        interesting = [
            (name, ms)
            for name, ms in b["aiops_functions_ms"].items()
            if not name.startswith(("aiops/routes.py", "handler.py"))
            and name.split(":", 1)[1] not in WRAPPERS
        ][:10]
        lines.append(
            "Where the first request goes (inclusive ms; shares from a pyinstrument run, scaled to "
            "the unprofiled first request): "
            + ", ".join(f"`{name}` {ms:.0f}" for name, ms in interesting)
            + "."
        )
    lines.append("")
    return lines


def fmt_counts(counts: dict[str, float]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{fmt(v, 2) if v % 1 else int(v)} {k}" for k, v in counts.items())


def instant_section(i: dict[str, Any] | None) -> list[str]:
    """§6: an exact edit answered without the model, against the model path and the floor."""
    if not i:
        return []
    s, p = i["summary"], i["in_process"]

    def row(at: str, label: str) -> str:
        key = f"{at}_ms_median_of_rounds"
        return (
            f"| {label} latency (ms) | {fmt(s['instant'][key], 2)} | {fmt(s['model'][key], 2)} | "
            f"{fmt(s['floor'][key], 2)} | **{fmt(i[f'instant_over_model_{at}'], 2)}** | "
            f"{fmt(i[f'instant_over_floor_{at}'], 2)} |"
        )

    return [
        "## 6. Instant edits (no model call)",
        "",
        "| | instant edit | model path | floor | instant ÷ model | instant ÷ floor |",
        "|---|---|---|---|---|---|",
        row("p50", "p50"),
        row("p90", "p90"),
        f"| requests measured | {s['instant']['requests']} | {s['model']['requests']} | "
        f"{s['floor']['requests']} | | |",
        f"| in process, no HTTP, in-memory store: p50 / p90 (ms) | "
        f"{fmt(p['instant']['p50_ms'], 2)} / {fmt(p['instant']['p90_ms'], 2)} | "
        f"{fmt(p['model']['p50_ms'], 2)} / {fmt(p['model']['p90_ms'], 2)} | | "
        f"{fmt(p['instant_over_model_p50'], 2)} | |",
        "",
        f"Model calls made by the instant requests: {i['model_calls_by_instant_requests']}. "
        f"In process, the recogniser (`aiops.instant.propose`) takes "
        f"{fmt(i['recogniser']['instant']['p50_us'], 0)} µs at p50 "
        f"({fmt(i['recogniser']['instant']['p90_us'], 0)} at p90) on the "
        f"{i['recogniser']['instant']['requests']} exact edits of tests/data/instant_cases.json, "
        f"and {fmt(i['recogniser']['model']['p50_us'], 0)} µs "
        f"({fmt(i['recogniser']['model']['p90_us'], 0)}) on the "
        f"{i['recogniser']['model']['requests']} requests it leaves to the model: what every "
        "model request pays for being looked at first. "
        "The scripted model answers at once here; a real one takes seconds, which the instant "
        "path saves entirely.",
        "",
    ]
