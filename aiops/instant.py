"""Instant edits (README "Instant edits"): exact edits of the current form, made without a model.

`propose` reads a request such as "把内存调到2G，实例改成3个" or "Give it 2 CPU cores" and returns
the changes to merge into the form, or None when the request is anything but such edits; None
sends the request to the model, unchanged. Precision comes first: every clause of the request
must be one recognised edit (polite words aside), a clause that two rules read differently is
refused, and so is a request that edits one thing twice, names an environment variable or a
volume the form lacks for a change or removal, or says something the rules do not know
(questions, negations, conditions, alternatives, vague amounts, pasted text).

Values are read by the form's own normaliser (`aiops.form.normalise`): "两核", "半核", "1.5G",
"500Mi" and full-width digits mean here what they mean in a model's answer. `describe` words
the short reply, in the user's language, from the form before and after.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiops import catalog
from aiops.form import (
    ENV_NAME_PATTERN,
    FIELDS,
    MOUNT_PATH_PATTERN,
    Limits,
    normalise,
)
from aiops.sizes import memory_mib

MODEL = "instant"  # the answer's `Model` when no model was asked
_MAX_CHARS = 600  # longer requests are more than an edit
_MAX_CLAUSES = 12
_CJK = re.compile(r"[\u3400-\u9fff]")

# Full-width ASCII and the ideographic space as ASCII, one character for one (positions kept).
_WIDE = str.maketrans({chr(0xFF01 + i): chr(0x21 + i) for i in range(94)} | {"\u3000": " "})

# Words that mean the request is not a plain edit, wherever they stand.
_REFUSE = re.compile(
    r"[?？]|吗|呢|么|什么|多少|哪|怎|是否|能否|可否|够|不|别|勿|没|如果|假如|要是|若|的话|除非|否则"
    r"|或|还是|对吧|好像|应该|可能|大概|左右|差不多|稍|一点|最|默认|推荐|合适|部署|docker"
    r"|\b(?:not|never|no|dont|don't|doesn't|isn't|won't|shouldn't|if|unless|when|whether|or|maybe"
    r"|perhaps|probably|about|around|roughly|approximately|some|bit|little|more\s+memory|less"
    r"|bigger|smaller|faster|slower|higher|lower\s+than|enough|default|recommended|latest|best"
    r"|deploy|docker|kubectl|helm|should|could|would|might|what|which|why|how|wait|actually"
    r"|instead|hmm|undo|before|previous|same|that)\b",
    re.IGNORECASE,
)
_SPLIT = re.compile(
    r"\s*(?:[,;。、\n]|；|，|\.\s+|(?<=\S)\s+(?:and|then|also|plus|&)\s+|以及|并且|然后|同时|另外|和|并|及)\s*",
    re.IGNORECASE,
)
_LEAD = re.compile(
    r"^(?:(?:请你?|请您|麻烦(?:你|您)?|帮(?:我|忙)|给我|替我|那就|那|好的?|嗯|ok(?:ay)?|please|pls"
    r"|kindly|now|and|also|then|just|hi|hey)\s*[,:]?\s*)+",
    re.IGNORECASE,
)
_TAIL = re.compile(
    r"(?:\s*(?:一下|吧|哈|呀|啊|哦|就行|就好|即可|谢谢|多谢|感谢|please|pls|thanks|thank\s+you|thx"
    r"|for\s+me|now)\s*[!.~]*)+$|\s*[!.~]+$",
    re.IGNORECASE,
)

# --- the pieces of a clause --------------------------------------------------------------------

_NUM = (
    r"(?:[0-9]+(?:\.[0-9]+)?|[零〇一二两俩三四五六七八九十百千]+"
    r"|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
)
_SIZE = rf"(?P<size>{_NUM}\s*[kmgt]i?b?)(?![a-z])"
_ZH_SET = (
    r"(?:调到|调整到|调整为|调整成|调为|调成|改成|改为|改到|设为|设成|设置为|设置成|设置到|设到|定为"
    r"|换成|换为|变成|变为|配置为|配置成|配成|配为|给到|弄成|搞成|修改为|修改成|更改为|更改成"
    r"|更新为|更新成|给|用|是|为|到|=|:)"
)
_ZH_UP = (
    r"(?:升到|升级到|升至|提高到|提升到|提到|增加到|增大到|加到|加大到|扩到|扩大到|扩容到|扩展到|扩充到"
    r"|调高到|调大到|增至)"
)
_ZH_DOWN = r"(?:降到|降低到|降至|减到|减少到|减小到|缩到|缩小到|缩容到|调低到|调小到|减至)"
_ZH_VERB = rf"(?:(?P<up>{_ZH_UP})|(?P<down>{_ZH_DOWN})|{_ZH_SET})"
_EN_SET = r"(?:set|change|make|update|put|switch|adjust|configure|give|use|modify)"
_EN_UP = r"(?:increase|raise|bump(?:\s+up)?|grow|up|expand|extend|scale\s+up|upgrade)"
_EN_DOWN = r"(?:decrease|reduce|lower|shrink|cut|drop|scale\s+down|downgrade|trim)"
_EN_VERB = rf"(?:(?P<up>{_EN_UP})|(?P<down>{_EN_DOWN})|{_EN_SET})"
_EN_TO = r"(?:to|=|:|at|up\s+to|down\s+to)"
# A word naming the app ("the MySQL volume"), never a field's own name ("CPU核数").
_QUAL_WORD = (
    r"(?!(?:cpu|vcpu|memory|ram|mem|port|storage|volume|disk|image)(?![a-z0-9._-]))"
    r"[a-z][a-z0-9._-]*"
)
_ZH_PREFIX = (
    r"(?:再|也|还要?)?(?:把|将|修改|更改|调整|改|调|设置|设)?\s*"
    r"(?:(?P<qual>" + _QUAL_WORD + r"|它|应用|服务|容器|数据库)\s*的?\s*)?"
)
_EN_THE = (
    r"(?:(?:the|its|it's|my|our)\s+)?(?:(?P<qual>" + _QUAL_WORD + r"|app|application|service"
    r"|container|database|db)(?:'s)?\s+)?"
)
_GENERIC_QUALIFIERS = frozenset({"它", "应用", "服务", "容器", "app", "application", "service"})
_GENERIC_QUALIFIERS |= {"container"}
# "给数据库 2 核": this app only when it is a database (by the image catalogue).
_DATABASE_QUALIFIERS = frozenset({"数据库", "database", "db"})

_MEMORY_ZH = r"(?:运行内存|内存大小|内存限制|内存配额|内存容量|内存|memory|ram|mem)"
_MEMORY_EN = r"(?:memory\s+limit|memory|ram|mem)"
_CPU_ZH = r"(?:cpu\s*核数|cpu核心数|cpu|vcpu|核数|核心数|处理器)"
_CPU_EN = r"(?:cpu\s+cores?|cpu\s+count|cpus?|vcpus?|cores?|processors?)"
_CPU_UNIT = r"(?:核心|核|cores?|vcpus?|cpus?)"
_CPU_NOUN_AFTER = r"(?:\s*(?:的)?\s*(?:cpu|vcpu|cpu\s+cores?|cores?|处理器))?"
_MILLI = r"(?:m|millicores?|millicpus?)"
_INSTANCE_ZH = (
    r"(?:实例数量|实例个数|实例数|实例|副本数量|副本数|副本|节点数|pod\s*数|replicas?|instances?)"
)
_INSTANCE_EN = (
    r"(?:number\s+of\s+(?:instances|replicas|pods)|instance\s+count|replica\s+count"
    r"|instances?|replicas?|pods?)"
)
_INSTANCE_UNIT = (
    r"(?:个实例|个副本|个节点|个pod|个容器|实例|副本|instances?|replicas?|pods?|copies)"
)
_COUNT = rf"(?P<count>{_NUM}|a\s+single|single|an?|just\s+one)"
_PORT_ZH = r"(?:容器端口|服务端口|监听端口|应用端口|端口号|端口|container\s*port|port)"
_PORT_EN = r"(?:container\s+port|listening\s+port|listen\s+port|app\s+port|port)"
_STORAGE_ZH = (
    r"(?:存储空间|存储卷|存储|磁盘空间|磁盘|硬盘|数据盘|数据卷|卷|volume)(?:容量|大小|空间)?"
)
_STORAGE_EN = r"(?:persistent\s+storage|storage|volume|disk)(?:\s+(?:size|capacity|space))?"
_PATH = rf"(?P<path>{MOUNT_PATH_PATTERN})"
_ENV_NAME = rf"(?P<name>{ENV_NAME_PATTERN})"
_VALUE = r"(?P<value>\"[^\"]*\"|'[^']*'|`[^`]*`|[^\s\"'`]+)"
_KV = rf"{ENV_NAME_PATTERN}\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=][^\s\"']*)"
_KV_ITEM = re.compile(rf"(?P<name>{ENV_NAME_PATTERN})\s*=\s*(?P<value>\"[^\"]*\"|'[^']*'|\S+)")
# (?-i:…): CJK has no case, and the class compiles in a fraction of the time without IGNORECASE
# (the eight rules holding it: 98 → 82 ms at start).
_ENV_ZH = r"(?:(?-i:[\u4e00-\u9fff]){0,4}环境变量|env\s*变量|env|变量)"
_ENV_EN = r"(?:env(?:ironment)?(?:\s+var(?:iable)?s?)?|variables?|vars?)"
_IMAGE_ZH = r"(?:镜像地址|镜像名称?|镜像|image)"
_IMAGE_EN = r"(?:image(?:\s+name)?|docker\s+image|container\s+image)"
_TAG_ZH = r"(?:镜像版本号?|镜像标签|镜像\s*tag|镜像的版本|镜像的\s*tag|版本号|版本|标签|tag)"
_TAG_EN = r"(?:image\s+tag|image\s+version|tag|version)"
_TAG_VALUE = (
    r"(?P<tag>v?[0-9][A-Za-z0-9_.-]{0,127}|latest|stable|[a-z0-9][a-z0-9_.-]*-[a-z0-9_.-]+)"
)
_IMAGE_VALUE = r"(?P<image>[a-z0-9][a-z0-9._/:@+-]*)"
_NAME_VALUE = r"(?P<app>[a-z][a-z0-9-]*)"
_ZH_NAME_NOUN = r"(?:应用名称|应用名字|应用的名字|应用名|服务名称?|app\s*name|名字|名称)"
_EN_NAME_NOUN = r"(?:app\s+name|application\s+name|service\s+name|name)"
_PUBLIC_ZH = r"(?:外网访问|公网访问|外部访问|公开访问|外网|公网|public\s*access)"
_ON_ZH = r"(?:开启|打开|启用|开通|允许|开放|放开|加上|加|要|需要|开)"
_OFF_ZH = r"(?:关闭|关掉|关上|禁用|停用|取消|去掉|屏蔽|关)"

# --- the state of one request ------------------------------------------------------------------


class _Refused(Exception):
    """The clause, or the request, is not an edit the instant path may make."""


@dataclass
class _State:
    """The form as the clauses so far left it, and which things they set (to find conflicts)."""

    form: dict[str, Any]
    limits: Limits
    catalog: catalog.Catalog  # "给数据库…" asks it whether this app is a database
    touched: dict[str, Any] = field(default_factory=dict)
    env_list_open: bool = False  # after "把这些环境变量加上：", bare K=V lines add variables
    counting_instances: bool = True  # "再加一个" alone means an instance (see propose)

    def set(self, target: str, value: Any) -> None:
        if target in self.touched and self.touched[target] != value:
            raise _Refused(f"{target} is given twice")
        self.touched[target] = value

    def copy(self) -> _State:
        return _State(
            copy.deepcopy(self.form),
            self.limits,
            self.catalog,
            dict(self.touched),
            self.env_list_open,
            self.counting_instances,
        )


_Apply = Callable[[re.Match[str], _State], None]


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    apply: _Apply


_RULES: list[_Rule] = []


def _rule(*patterns: str) -> Callable[[_Apply], _Apply]:
    def register(apply: _Apply) -> _Apply:
        for pattern in patterns:
            _RULES.append(_Rule(re.compile(pattern, re.IGNORECASE), apply))
        return apply

    return register


# --- reading values with the form's own rules --------------------------------------------------


def _read(name: str, raw: Any, limits: Limits) -> Any:
    """`raw` as the form normalises field `name`; refused when the form cannot read it."""
    result = normalise({name: raw}, limits)
    if any(re.split(r"[.\[]", e.field, maxsplit=1)[0] == name for e in result.errors):
        raise _Refused(f"{name}: cannot read {raw!r}")
    return result.form[name]


def _now(name: str, state: _State) -> Any:
    """The field's value so far, normalised (an earlier clause may have set it as written)."""
    return _read(name, state.form[name], state.limits)


def _capacity(raw: Any, state: _State) -> int:
    """A volume's capacity in GiB as the form reads it; "0G" is no size to make one."""
    size = memory_mib(str(raw)) if isinstance(raw, str) else None
    if size is not None and size <= 0:
        raise _Refused("an empty volume")
    return _read("storage", [{"capacity": raw, "value": "/data"}], state.limits)[0]["capacity"]


def _as_said(text: str) -> str:
    """A value as the user wrote it, for conflicts: "3G" then "4G" is two answers, though the
    form would make both 4G."""
    return re.sub(r"\s+", "", text.lower())


def _unquoted(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        return text[1:-1]
    return text


def _number_text(text: str) -> str:
    """An English article or "single" as the digit it means; other numbers as written."""
    spelled = re.sub(r"\s+", " ", text.strip().lower())
    return "1" if spelled in ("a", "an", "single", "a single", "just one") else spelled


def _check_direction(match: re.Match[str], before: float, after: float) -> None:
    """ "Raise it to X" must raise it, "lower it to X" must lower it; else the user is confused."""
    groups = match.groupdict()
    if groups.get("up") and not after > before:
        raise _Refused("an increase that does not increase")
    if groups.get("down") and not after < before:
        raise _Refused("a decrease that does not decrease")


def _check_qualifier(match: re.Match[str], state: _State) -> None:
    """ "the MySQL volume", "给数据库…": the qualifier must name this app (or be generic)."""
    form = state.form
    qual = (match.groupdict().get("qual") or "").lower()
    if qual in _DATABASE_QUALIFIERS:
        entry = state.catalog.for_image(str(form.get("image_name", "")))
        if entry is None or entry.category != "database":
            raise _Refused("the database: another app than this one?")
        return
    if not qual or qual in _GENERIC_QUALIFIERS:
        return
    image = str(form.get("image_name", "")).lower()
    repository = re.split(r"[:@]", image.rsplit("/", 1)[-1], maxsplit=1)[0]
    names = {str(form.get("app_name", "")).lower(), repository, repository.split("-")[0]}
    if qual not in names:
        raise _Refused(f"{qual!r} is not this app")


# --- memory ------------------------------------------------------------------------------------


@_rule(
    rf"^{_ZH_PREFIX}{_MEMORY_ZH}\s*{_ZH_VERB}?\s*{_SIZE}$",
    rf"^(?:给|分配|加到|配|来|用)?\s*(?:(?P<qual>它|应用|服务|数据库|{_QUAL_WORD})\s*)?{_SIZE}\s*的?\s*{_MEMORY_ZH}$",
    rf"^{_EN_VERB}\s+{_EN_THE}{_MEMORY_EN}\s+{_EN_TO}\s+{_SIZE}$",
    rf"^{_EN_THE}{_MEMORY_EN}\s*{_EN_TO}?\s*{_SIZE}$",
    rf"^(?:give\s+it|give\s+the\s+app|use|allocate|set|with|make\s+it)?\s*{_SIZE}\s+(?:of\s+)?{_MEMORY_EN}$",
)
def _memory(match: re.Match[str], state: _State) -> None:
    _check_qualifier(match, state)
    value = _read("memory", match["size"], state.limits)
    before, after = memory_mib(_now("memory", state)), memory_mib(value)
    if before is not None and after is not None:
        _check_direction(match, before, after)
    state.set("memory", (value, _as_said(match["size"])))
    state.form["memory"] = match["size"]


# --- cpu ---------------------------------------------------------------------------------------

_CORES = rf"(?P<cores>{_NUM}|半|half\s+a|half)\s*(?:个)?\s*(?P<milli>{_MILLI})?"


@_rule(
    rf"^{_ZH_PREFIX}{_CPU_ZH}\s*{_ZH_VERB}?\s*{_CORES}\s*(?:个)?\s*{_CPU_UNIT}?$",
    rf"^(?:给|分配|配|来|用|改成|改为|换成|调到|调整为|设为)?\s*(?:(?P<qual>它|应用|服务|数据库|{_QUAL_WORD})\s*)?{_CORES}\s*(?:个)?\s*{_CPU_UNIT}{_CPU_NOUN_AFTER}$",
    rf"^(?:给|分配|配|来|用)?\s*(?:(?P<qual>它|应用|服务|数据库)\s*)?{_CORES}\s*(?:个)?\s*(?:cpu|vcpu)$",
    rf"^{_EN_VERB}\s+{_EN_THE}{_CPU_EN}\s+{_EN_TO}\s+{_CORES}\s*{_CPU_UNIT}?$",
    rf"^{_EN_THE}{_CPU_EN}\s*{_EN_TO}?\s*{_CORES}\s*{_CPU_UNIT}?$",
    rf"^(?:give\s+(?:it|the\s+(?:app|database|db|service|container))|use|allocate|set|with|make\s+it)?\s*{_CORES}\s*(?:of\s+an?\s+|of\s+)?{_CPU_UNIT}{_CPU_NOUN_AFTER}$",
)
def _cpu(match: re.Match[str], state: _State) -> None:
    _check_qualifier(match, state)
    cores = match["cores"].lower().replace(" ", "")
    raw = "0.5" if cores in ("半", "half", "halfa") else _number_text(cores)
    if match["milli"]:
        raw += "m"
    value = _read("cpu", raw, state.limits)
    _check_direction(match, float(_now("cpu", state)), float(value))
    state.set("cpu", (value, _as_said(raw)))
    state.form["cpu"] = raw


# --- instances ---------------------------------------------------------------------------------


@_rule(
    rf"^{_ZH_PREFIX}{_INSTANCE_ZH}\s*{_ZH_VERB}?\s*{_COUNT}\s*(?:{_INSTANCE_UNIT}|个)?$",
    rf"^{_ZH_PREFIX}(?:{_ZH_VERB}|扩容到|扩展到|缩容到|跑|开|起|运行)?\s*{_COUNT}\s*{_INSTANCE_UNIT}$",
    rf"^{_EN_VERB}\s+{_EN_THE}{_INSTANCE_EN}\s+{_EN_TO}\s+{_COUNT}(?:\s+{_INSTANCE_UNIT})?$",
    rf"^{_EN_THE}{_INSTANCE_EN}\s*{_EN_TO}?\s*{_COUNT}$",
    rf"^(?:scale|scale\s+out|scale\s+in|(?P<up>scale\s+up)|(?P<down>scale\s+down))(?:\s+(?:it|the\s+app))?"
    rf"\s+to\s+{_COUNT}(?:\s+{_INSTANCE_UNIT})?$",
    rf"^(?:run|use|give\s+it|make\s+it|set\s+it\s+to|change\s+it\s+to|have|i\s+want|i\s+need)?\s*{_COUNT}\s+{_INSTANCE_UNIT}$",
)
def _instances(match: re.Match[str], state: _State) -> None:
    _check_qualifier(match, state)
    raw = _number_text(match["count"])
    value = _read("instance", raw, state.limits)
    _check_direction(match, float(_now("instance", state)), float(value))
    state.set("instance", (value, _as_said(raw)))
    state.form["instance"] = raw


_MORE_ZH = (
    r"^(?:再|多)?(?P<verb>加|增加|添加|多加|多开|多起|减少|减|少|去掉|删掉|砍掉)"
    rf"\s*{_COUNT}\s*{_INSTANCE_UNIT}$"
)
_MORE_EN = (
    rf"^(?:(?:add|run)\s+)?(?:{_COUNT}|another)\s+(?P<verb>more|extra|additional|fewer|less)?"
    rf"\s*{_INSTANCE_UNIT}$"
)


@_rule(_MORE_ZH, _MORE_EN, rf"^(?P<verb>add|remove)\s+(?:{_COUNT}|another)\s+{_INSTANCE_UNIT}$")
def _more_instances(match: re.Match[str], state: _State) -> None:
    verb = (match["verb"] or "").lower()
    text = match.group(0).lower()
    if not verb and "another" not in text:
        raise _Refused("a count without a direction")  # "3 instances" is read by _instances
    fewer = verb in ("减少", "减", "少", "去掉", "删掉", "砍掉", "fewer", "less", "remove")
    count = (
        1
        if match["count"] is None
        else _read("instance", _number_text(match["count"]), state.limits)
    )
    _add_instances(state, -count if fewer else count)


def _add_instances(state: _State, delta: int) -> None:
    total = _now("instance", state) + delta
    if not 1 <= total <= state.limits.max_instances:
        raise _Refused("the count leaves the allowed range")
    state.set("instance", (total, None))
    state.form["instance"] = total


@_rule(
    r"^(?:再|多)?(?P<verb>加|来|多|多加|多来|减少|减|少|再减)\s*(?P<count>[一两二三1-9])\s*个$",
    r"^(?:(?P<count>one|two|three|[1-9])\s+(?P<verb>more|fewer|less)|(?P<another>another)(?:\s+one)?)$",
)
def _more_of_nothing_named(match: re.Match[str], state: _State) -> None:
    """ "再加一个", "one more": of what? Instances, when nothing else is being added (a fresh
    conversation, or one whose last turn changed the instance count); else the model asks."""
    if not state.counting_instances:
        raise _Refused("one more of what?")
    named = match.groupdict()
    count = (
        1 if named.get("another") else _read("instance", _number_text(named["count"]), state.limits)
    )
    fewer = (named.get("verb") or "").lower() in ("减少", "减", "少", "再减", "fewer", "less")
    _add_instances(state, -count if fewer else count)


# --- container port ----------------------------------------------------------------------------


@_rule(
    rf"^{_ZH_PREFIX}{_PORT_ZH}\s*{_ZH_VERB}?\s*(?P<port>[0-9]{{1,5}})$",
    r"^(?:监听|使用|用|改成|改为|换成|改用)\s*(?P<port>[0-9]{1,5})\s*端口$",
    rf"^{_EN_VERB}\s+{_EN_THE}{_PORT_EN}\s+{_EN_TO}\s+(?P<port>[0-9]{{1,5}})$",
    rf"^{_EN_THE}{_PORT_EN}\s*{_EN_TO}?\s*(?P<port>[0-9]{{1,5}})$",
    r"^(?:it\s+)?(?:listens?|listening)\s+on\s+(?:port\s+)?(?P<port>[0-9]{1,5})$",
    r"^use\s+port\s+(?P<port>[0-9]{1,5})$",
)
def _port(match: re.Match[str], state: _State) -> None:
    _check_qualifier(match, state)
    value = _read("container_port", match["port"], state.limits)
    state.set("container_port", value)
    state.form["container_port"] = value


# --- public access -----------------------------------------------------------------------------


@_rule(
    rf"^(?:把|将)?{_ON_ZH}\s*{_PUBLIC_ZH}$",
    rf"^(?:把|将)?{_PUBLIC_ZH}\s*(?:{_ON_ZH}|改成开启|设为开启|打开|开|设为true|改为true|=\s*true)$",
    r"^(?:对外开放|允许从外网访问|允许公网访问|暴露到公网|暴露到外网|开放到公网|公网可访问|外网可访问)$",
    r"^(?:make|set)\s+it\s+(?:public(?:ly\s+accessible)?|accessible\s+from\s+the\s+internet)$",
    r"^(?:enable|turn\s+on|switch\s+on|allow|open\s+up|add)\s+public\s+access$",
    r"^(?:set\s+)?public[\s_]+access\s*(?:to|=|:)?\s*(?:on|true|yes|enabled)$",
    r"^(?:expose\s+it|open\s+it)\s+(?:to|on)\s+the\s+internet$",
    r"^(?:give\s+it\s+a\s+public\s+url|make\s+the\s+app\s+public)$",
)
def _public_on(match: re.Match[str], state: _State) -> None:
    state.set("public_access", True)
    state.form["public_access"] = True


@_rule(
    rf"^(?:把|将)?{_OFF_ZH}\s*{_PUBLIC_ZH}$",
    rf"^(?:把|将)?{_PUBLIC_ZH}\s*(?:{_OFF_ZH}|改成关闭|设为关闭|关|设为false|改为false|=\s*false)$",
    r"^(?:只允许内网访问|只能内网访问|改成内网访问|仅内网访问|改为内网访问|改成私有|设为私有)$",
    r"^(?:make|set)\s+it\s+(?:private|internal(?:\s+only)?)$",
    r"^(?:disable|turn\s+off|switch\s+off|remove|close)\s+(?:the\s+)?public\s+access$",
    r"^(?:set\s+)?public[\s_]+access\s*(?:to|=|:)?\s*(?:off|false|disabled)$",
    r"^make\s+the\s+app\s+private$",
)
def _public_off(match: re.Match[str], state: _State) -> None:
    state.set("public_access", False)
    state.form["public_access"] = False


# --- app name ----------------------------------------------------------------------------------


@_rule(
    rf"^(?:把|将)?{_ZH_NAME_NOUN}\s*(?:改成|改为|换成|设为|设置为|叫|是|为|=|:)\s*{_NAME_VALUE}$",
    rf"^(?:改名|重命名|更名|名字改)(?:为|成|叫)?\s*{_NAME_VALUE}$",
    rf"^(?:应用|它)?\s*(?:就)?叫\s*{_NAME_VALUE}$",
    rf"^rename\s+(?:the\s+app|the\s+application|the\s+service|it|this\s+app)?\s*(?:to|as)\s+{_NAME_VALUE}$",
    rf"^{_EN_SET}\s+(?:the\s+)?{_EN_NAME_NOUN}\s+(?:to|=|:)\s+{_NAME_VALUE}$",
    rf"^(?:call|name)\s+it\s+{_NAME_VALUE}$",
    rf"^(?:the\s+)?{_EN_NAME_NOUN}\s*[:=]\s*{_NAME_VALUE}$",
)
def _app_name(match: re.Match[str], state: _State) -> None:
    value = _read("app_name", match["app"], state.limits)
    if value != match["app"].lower():
        raise _Refused("a name the form would change")
    state.set("app_name", value)
    state.form["app_name"] = value


# --- image -------------------------------------------------------------------------------------


def _repository(image: str) -> tuple[str, str]:
    """(repository without tag or digest, digest) of a normalised image reference."""
    name, _, digest = image.partition("@")
    head, slash, last = name.rpartition("/")
    return head + slash + last.partition(":")[0], digest


@_rule(
    rf"^{_ZH_PREFIX}{_TAG_ZH}\s*{_ZH_VERB}\s*{_TAG_VALUE}$",
    rf"^(?:升级到|升级至|升到|更新到|切到|切换到|降级到|回退到|换到)\s*(?:版本)?\s*{_TAG_VALUE}\s*(?:版本?)?$",
    rf"^{_EN_VERB}\s+(?:the\s+)?{_TAG_EN}\s+(?:to|=|:)\s+{_TAG_VALUE}$",
    rf"^(?:upgrade|update|downgrade|bump|move|roll\s+back|switch)\s+(?:it\s+)?to\s+(?:version\s+|tag\s+)?{_TAG_VALUE}$",
    rf"^(?:use|set)\s+(?:version|tag)\s+{_TAG_VALUE}$",
    rf"^(?:the\s+)?{_TAG_EN}\s*[:=]\s*{_TAG_VALUE}$",
)
def _image_tag(match: re.Match[str], state: _State) -> None:
    if re.fullmatch(_SIZE, match["tag"], re.IGNORECASE):
        raise _Refused("a size, not a version")
    repository, digest = _repository(state.form["image_name"])
    if digest:
        raise _Refused("a pinned digest")
    _set_image(f"{repository}:{match['tag']}", state)


@_rule(
    rf"^{_ZH_PREFIX}{_IMAGE_ZH}\s*{_ZH_VERB}\s*{_IMAGE_VALUE}$",
    rf"^(?:换成|改成|改用|使用|用)\s*{_IMAGE_VALUE}\s*(?:这个)?镜像$",
    rf"^{_EN_VERB}\s+(?:the\s+)?{_IMAGE_EN}\s+(?:to|=|:)\s+{_IMAGE_VALUE}$",
    rf"^(?:use|switch\s+to)\s+(?:the\s+)?image\s+{_IMAGE_VALUE}$",
    rf"^(?:the\s+)?{_IMAGE_EN}\s*[:=]\s*{_IMAGE_VALUE}$",
)
def _image(match: re.Match[str], state: _State) -> None:
    image = match["image"]
    if ":" not in image and "@" not in image and "/" not in image:
        if re.fullmatch(r"v?[0-9][A-Za-z0-9_.-]*", image) and not re.fullmatch(
            _SIZE, image, re.I
        ):  # "镜像改成 1.5.0": a tag
            repository, digest = _repository(state.form["image_name"])
            if digest:
                raise _Refused("a pinned digest")
            image = f"{repository}:{image}"
        else:
            raise _Refused("an image without a version: another app, for the model")
    _set_image(image, state)


def _set_image(image: str, state: _State) -> None:
    value = _read("image_name", image, state.limits)
    old, _ = _repository(state.form["image_name"])
    new, _ = _repository(value)
    # Another repository is another app (its port, variables, volumes): the model's to judge.
    if old.rsplit("/", 1)[-1] != new.rsplit("/", 1)[-1]:
        raise _Refused("another image")
    state.set("image_name", value)
    state.form["image_name"] = value


# --- environment -------------------------------------------------------------------------------


def _env(state: _State) -> list[dict[str, str]]:
    return state.form["environment"]


# "set memory=2G" edits the form, not a variable called memory.
_FIELD_WORDS = frozenset(FIELDS) | frozenset(
    [
        "memory",
        "mem",
        "ram",
        "cpu",
        "cpus",
        "vcpu",
        "cores",
        "port",
        "instances",
        "replicas",
        "image",
        "tag",
        "version",
        "storage",
        "volume",
        "disk",
        "name",
        "app",
        "public",
    ]
)


def _env_set(state: _State, name: str, value: str, *, must_exist: bool) -> None:
    variables = _env(state)
    existing = [item for item in variables if item["name"] == name]
    if must_exist and not existing:
        raise _Refused(f"no variable {name}")
    if not existing and name.lower() in _FIELD_WORDS:
        raise _Refused(f"{name} is a field of the form")
    if not value and not existing:
        raise _Refused("an empty new variable")
    state.set(f"env:{name}", value)
    if existing:
        existing[0]["value"] = value
    else:
        variables.append({"name": name, "value": value})


def _kv_items(text: str) -> list[tuple[str, str]]:
    items = [(m["name"], _unquoted(m["value"])) for m in _KV_ITEM.finditer(text)]
    if not items:
        raise _Refused("no NAME=value")
    return items


_KVS = rf"(?P<kvs>{_KV}(?:\s+{_KV})*)"


@_rule(
    rf"^(?:再|也)?(?:加|添加|增加|新增|加上|设置|设|配置|配|补充|补上)(?:一个|一下|个|些|这些|以下|上)?\s*{_ENV_ZH}?\s*[:]?\s*{_KVS}$",
    rf"^{_ENV_ZH}\s*(?:(?:加上|添加|增加|新增|设置|设为|加)(?:一个|个|上)?)?\s*[:]?\s*{_KVS}$",
    rf"^(?:add|set|put|define|include)\s+(?:an?\s+|the\s+|new\s+|these\s+)?(?:{_ENV_EN}\s*:?\s*)?{_KVS}$",
    rf"^(?:(?:an?\s+|new\s+)?{_ENV_EN}\s*:?\s*)?{_KVS}$",
)
def _env_add(match: re.Match[str], state: _State) -> None:
    text = match.group(0)
    items = _kv_items(match["kvs"])
    known = {item["name"] for item in _env(state)}
    bare = re.fullmatch(_KVS, text, re.IGNORECASE) is not None
    if bare and not state.env_list_open and not all(name in known for name, _ in items):
        raise _Refused("NAME=value with no word saying it is a variable")
    for name, value in items:
        _env_set(state, name, value, must_exist=False)
    state.env_list_open = True  # "加环境变量 A=1，B=2": the next clause may list more


@_rule(
    rf"^(?:把|将)?(?:这些|以下|下面的?)?{_ENV_ZH}\s*(?:都)?(?:加上|加进去|添加上?|设置上?|配置上?|加)$",
    rf"^(?:把|将)?(?:这些|以下|下面的?)?{_ENV_ZH}\s*(?:都)?(?:加上|加进去|添加上?|设置上?|配置上?|加)\s*:$",
    rf"^(?:加上|添加|增加|设置|加)(?:这些|以下|下面的?)\s*{_ENV_ZH}\s*:?$",
    rf"^(?:add|set)\s+(?:these|the\s+following)\s+{_ENV_EN}\s*:?$",
)
def _env_intro(match: re.Match[str], state: _State) -> None:
    state.env_list_open = True
    state.touched.setdefault("env:intro", True)


@_rule(
    rf"^(?:把|将)?\s*(?:{_ENV_ZH}\s*)?{_ENV_NAME}\s*(?:的值)?\s*(?:改成|改为|设为|设成|设置为|设置成|换成|调成|调整为|改到|=)\s*{_VALUE}$",
    rf"^(?:set|change|update|switch)\s+(?:the\s+)?(?:{_ENV_EN}\s+)?{_ENV_NAME}(?:\s+{_ENV_EN})?\s+to\s+{_VALUE}$",
)
def _env_change(match: re.Match[str], state: _State) -> None:
    name = match["name"]
    _env_set(state, name, _unquoted(match["value"]), must_exist=True)


@_rule(
    rf"^(?:把|将)?\s*(?:{_ENV_ZH}\s*)?{_ENV_NAME}\s*(?:这个|这一?个)?\s*(?:{_ENV_ZH})?\s*(?:删掉|删除|去掉|移除|删了|去了|清除|拿掉)$",
    rf"^(?:删掉|删除|去掉|移除|清除|拿掉|删)\s*(?:{_ENV_ZH}\s*)?{_ENV_NAME}\s*(?:这个|这一?个)?\s*(?:{_ENV_ZH})?$",
    rf"^(?:remove|delete|drop|unset|get\s+rid\s+of)\s+(?:the\s+)?(?:{_ENV_EN}\s+)?{_ENV_NAME}(?:\s+{_ENV_EN})?$",
)
def _env_remove(match: re.Match[str], state: _State) -> None:
    name = match["name"]
    variables = _env(state)
    if name not in {item["name"] for item in variables}:
        raise _Refused(f"no variable {name}")
    state.set(f"env:{name}", None)
    state.form["environment"] = [item for item in variables if item["name"] != name]


# --- storage -----------------------------------------------------------------------------------


def _volumes(state: _State) -> list[dict[str, Any]]:
    return state.form["storage"]


def _resize(match: re.Match[str], state: _State, path: str | None) -> None:
    volumes = _volumes(state)
    if path is None:
        if len(volumes) != 1:
            raise _Refused("which volume?")
        volume = volumes[0]
    else:
        found = [v for v in volumes if v["value"] == path.rstrip("/") or v["value"] == path]
        if not found:
            raise _Refused(f"no volume at {path}")
        volume = found[0]
    new = _capacity(match["size"], state)
    _check_direction(match, float(_capacity(volume["capacity"], state)), float(new))
    state.set(f"volume:{volume['value']}", (new, _as_said(match["size"])))
    volume["capacity"] = match["size"]


@_rule(
    rf"^{_ZH_PREFIX}{_STORAGE_ZH}\s*{_ZH_VERB}\s*{_SIZE}$",
    rf"^{_EN_VERB}\s+{_EN_THE}{_STORAGE_EN}\s+{_EN_TO}\s+{_SIZE}$",
    rf"^resize\s+{_EN_THE}{_STORAGE_EN}\s+to\s+{_SIZE}$",
    rf"^{_EN_THE}{_STORAGE_EN}\s*(?:to|=|:)\s*{_SIZE}$",
)
def _storage_size(match: re.Match[str], state: _State) -> None:
    _check_qualifier(match, state)
    _resize(match, state, None)


@_rule(
    rf"^(?:把|将)?\s*{_PATH}\s*(?:的|下的|目录的|目录)?\s*(?:{_STORAGE_ZH})?\s*{_ZH_VERB}\s*{_SIZE}$",
    rf"^{_EN_VERB}\s+(?:the\s+)?{_STORAGE_EN}\s+(?:at|on|for|of|mounted\s+at)\s+{_PATH}\s+to\s+{_SIZE}$",
    rf"^(?:resize|grow|{_EN_VERB})\s+{_PATH}\s+to\s+{_SIZE}$",
)
def _storage_path_size(match: re.Match[str], state: _State) -> None:
    _resize(match, state, match["path"])


@_rule(
    rf"^(?:挂载|挂|加|添加|增加|新增|加上|创建)\s*(?:一个|一块|个|块)?\s*{_SIZE}\s*(?:的)?\s*(?:{_STORAGE_ZH}|持久化存储)?\s*(?:到|在|于|挂载到|挂到|挂载在|挂在|,)\s*{_PATH}(?:\s*(?:目录|下|上))?$",
    rf"^{_SIZE}\s*(?:的)?\s*(?:{_STORAGE_ZH}|持久化存储)?\s*(?:挂载到|挂到|挂载在|挂在|挂载于)\s*{_PATH}(?:\s*(?:目录|下|上))?$",
    rf"^(?:在\s*)?{_PATH}\s*(?:挂载|挂|加|添加)\s*(?:一个|一块|个|块)?\s*{_SIZE}\s*(?:的)?\s*(?:{_STORAGE_ZH})?$",
    rf"^(?:挂载|加|添加|新增)\s*(?:一个|个)?\s*(?:{_STORAGE_ZH})\s*(?:到|在)?\s*{_PATH}\s*(?:,)?\s*(?:大小|容量)?\s*(?:为|是)?\s*{_SIZE}$",
    rf"^(?:(?:add|mount|attach|create)\s+)?(?:an?\s+)?{_SIZE}\s+(?:of\s+)?(?:{_STORAGE_EN}\s+)?(?:at|on|to|mounted\s+at|under)\s+{_PATH}$",
    rf"^(?:add|mount|attach|create)\s+(?:an?\s+)?{_STORAGE_EN}\s+(?:at|on)\s+{_PATH}\s+(?:of|with)\s+{_SIZE}$",
)
def _storage_add(match: re.Match[str], state: _State) -> None:
    path = match["path"]
    if any(v["value"] == path for v in _volumes(state)):
        raise _Refused("a volume there already: add to it, or set it?")
    state.set(f"volume:{path}", (_capacity(match["size"], state), _as_said(match["size"])))
    _volumes(state).append({"capacity": match["size"], "value": path})


@_rule(
    rf"^(?:删掉|删除|去掉|移除|卸载|取消挂载)\s*{_PATH}\s*(?:的|上的|下的)?\s*(?:{_STORAGE_ZH}|挂载)?$",
    rf"^(?:把|将)?\s*{_PATH}\s*(?:的|上的|下的)?\s*(?:{_STORAGE_ZH}|挂载)?\s*(?:删掉|删除|去掉|移除|卸载|删了)$",
    rf"^(?:remove|delete|drop|unmount|detach)\s+(?:the\s+)?(?:{_STORAGE_EN}|mount)\s+(?:at|on|mounted\s+at)\s+{_PATH}$",
    rf"^(?:remove|delete|drop|unmount|detach)\s+{_PATH}$",
)
def _storage_remove(match: re.Match[str], state: _State) -> None:
    path = match["path"]
    volumes = _volumes(state)
    if not any(v["value"] == path for v in volumes):
        raise _Refused(f"no volume at {path}")
    state.set(f"volume:{path}", None)
    state.form["storage"] = [v for v in volumes if v["value"] != path]


# --- the request as a whole --------------------------------------------------------------------


def clauses(text: str) -> list[str]:
    """The request cut into clauses, full-width forms folded, polite words trimmed."""
    folded = text.translate(_WIDE)
    parts = []
    for part in _SPLIT.split(folded):
        before = None
        while before != part:
            before = part
            part = _TAIL.sub("", _LEAD.sub("", part.strip())).strip()
        if part:
            parts.append(part)
    return parts


def _clause(text: str, state: _State) -> _State:
    """The state after one clause; refused unless exactly one reading of it is possible."""
    readings: list[_State] = []
    for rule in _RULES:
        match = rule.pattern.fullmatch(text)
        if match is None:
            continue
        trial = state.copy()
        try:
            rule.apply(match, trial)
        except _Refused:
            continue
        if all(trial.form != other.form for other in readings):
            readings.append(trial)
    if len(readings) != 1:
        raise _Refused("no reading" if not readings else "two readings")
    return readings[0]


def propose(
    user_input: str,
    form: dict[str, Any],
    limits: Limits,
    known: catalog.Catalog,
    last_changes: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The changes an exact edit request makes to the (normalised) form, or None: ask the model.

    `known`: the app's catalogue (is the image a database, for "给数据库 2 核").
    `last_changes`: what the conversation's previous turn changed (None: no previous turn); a
    bare "再加一个" counts instances only when that turn changed nothing else."""
    if len(user_input) > _MAX_CHARS or _REFUSE.search(_without_values(user_input)):
        return None
    if "？" in user_input or user_input.rstrip().endswith("?"):  # "…TZ=UTC?" asks
        return None
    parts = clauses(user_input)
    if not parts or len(parts) > _MAX_CLAUSES:
        return None
    state = _State(copy.deepcopy(form), limits, known)
    state.counting_instances = last_changes is None or set(last_changes) <= {"instance"}
    try:
        for part in parts:
            state = _clause(part, state)
    except _Refused:
        return None
    if not any(target != "env:intro" for target in state.touched):
        return None
    after = normalise(state.form, limits, previous=form).form
    return {name: state.form[name] for name in form if after[name] != form[name]}


def _without_values(text: str) -> str:
    """The request with NAME=value items, quoted text and paths blanked, for the word checks."""
    text = text.translate(_WIDE)  # only ASCII is blanked: words in Chinese are always checked
    text = re.sub(rf"{ENV_NAME_PATTERN}\s*=\s*[!-~]+", " ", text)
    text = re.sub(r"\"[ -~]*\"|'[ -~]*'|`[ -~]*`", " ", text)
    return re.sub(rf"{MOUNT_PATH_PATTERN}|[a-z0-9.-]+/[!-~]+|[!-~]+:[!-~]+", " ", text)


# --- the reply ---------------------------------------------------------------------------------


def describe(before: dict[str, Any], after: dict[str, Any], user_input: str) -> str:
    """A short sentence saying what changed, in the user's language (no variable's value)."""
    zh = bool(_CJK.search(user_input))
    said = [
        phrase
        for name in after
        if name in before and before[name] != after[name]
        for phrase in _phrases(name, before[name], after[name], zh)
    ]
    if not said:
        return "表单已是这些值，无需修改。" if zh else "The form already has these values."
    return ("已修改：" + "；".join(said) + "。") if zh else ("Done: " + "; ".join(said) + ".")


def _phrases(name: str, old: Any, new: Any, zh: bool) -> list[str]:
    if name == "environment":
        return _env_phrases(old, new, zh)
    if name == "storage":
        return _storage_phrases(old, new, zh)
    if name == "public_access":
        if zh:
            return ["开启外网访问" if new else "关闭外网访问"]
        return ["public access turned " + ("on" if new else "off")]
    shown = {"cpu": f"{new} 核" if zh else f"{new} core" + ("" if new == 1 else "s")}
    labels_zh = {"memory": "内存", "cpu": "CPU", "instance": "实例数", "container_port": "容器端口"}
    labels_zh |= {"app_name": "应用名", "image_name": "镜像"}
    labels_en = {"instance": "instances", "container_port": "container port"}
    labels_en |= {"app_name": "app name", "image_name": "image"}
    value = shown.get(name, str(new))
    if zh:
        label = labels_zh.get(name, name)
        return [f"{label}{' ' if label.isascii() else ''}改为 {value}"]
    return [f"{labels_en.get(name, name)} set to {value}"]


def _env_phrases(old: list[dict[str, str]], new: list[dict[str, str]], zh: bool) -> list[str]:
    before = {item["name"]: item["value"] for item in old}
    after = {item["name"]: item["value"] for item in new}
    added = [name for name in after if name not in before]
    changed = [name for name in after if name in before and before[name] != after[name]]
    removed = [name for name in before if name not in after]
    words = (
        ("新增环境变量", "修改环境变量", "删除环境变量") if zh else ("added", "changed", "removed")
    )
    joiner = "、" if zh else ", "
    return [
        (f"{word} " if zh else f"{word} environment variable{'s' if len(names) > 1 else ''} ")
        + joiner.join(names)
        for word, names in zip(words, (added, changed, removed), strict=True)
        if names
    ]


def _storage_phrases(old: list[dict[str, Any]], new: list[dict[str, Any]], zh: bool) -> list[str]:
    before = {item["value"]: item["capacity"] for item in old}
    after = {item["value"]: item["capacity"] for item in new}
    phrases = []
    for path, capacity in after.items():
        if path not in before:
            phrases.append(
                f"新增存储 {path}（{capacity}G）" if zh else f"added {capacity}G at {path}"
            )
        elif before[path] != capacity:
            phrases.append(
                f"存储 {path} 改为 {capacity}G" if zh else f"volume {path} set to {capacity}G"
            )
    phrases += [
        (f"删除存储 {path}" if zh else f"removed the volume at {path}")
        for path in before
        if path not in after
    ]
    return phrases
