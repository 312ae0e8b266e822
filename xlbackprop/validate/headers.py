"""Header label -> canonical quantity name, matched by meaning rather than by a list of spellings.

A label is normalised (Unicode compatibility form, lower case, no spaces, underscores, brackets, slashes or
partial-derivative signs ∂ δ 𝜕) and then read by a handful of patterns: `∂E_total/∂W5`, `E∂w5`, `δE_tot/δw5`,
`Etotaldw5` and `dw5` all become dE_total/dw5; `out_h1`, `act_h1`, `a_h1` become a_h1.
"""

import re
import unicodedata

# The partial sign in whatever symbol students type: ∂ and its mathematical-alphabet forms (NFKC makes 𝜕 𝟃
# into ∂), δ, ð, Δ, and look-alikes from other scripts (Cyrillic schwa Ә, d with a bar Ƌ, latin delta ẟ,
# insular d ꝺ); slashes as fraction or division slashes.
_PARTIALS = "∂δ𝜕ðÐΔ∆ӘәƋƌẟꝹꝺ"
_SLASHES = "∕⁄∖"
_DROP = re.compile(r"[\s_()\[\]{}/\\:;,.'\"`*·" + _PARTIALS + _SLASHES + "-]")
_NEXT = re.compile(r"['’′]\s*$|\b(new|updated|next)\b")
_MAZUR = re.compile(r"(?:(e|err|error|loss|cost|mse|sse|se)|target)o(\d+)")
_DELTA = re.compile(r"^(?:δ|Δ|delta)\s*_?\s*([ho]\d+(?:_\d+)?|o)$")
_SUFFIX = re.compile(r"\[(\d+)\]$")  # h1[2]: h1 for the second sample
_ASIDE = re.compile(r"\s\([^)]*\)|\([^)]*\s[^)]*\)")  # "t1 ( output of out_o1)", "w1 (old)"; not "∂(E_total)"

# A unit of a network with several hidden layers, h2_1 (layer 2, unit 1): the underscore is kept as an "x"
# through normalisation, and given back in the name.
_LAYERED = re.compile(r"(?<![a-z])h(\d+)_(\d+)")
_H = r"(\d+(?:x\d+)?)"
# a loss at a learning rate (E_0.1, Loss_2): the label of a loss curve, not of a quantity of the table
LOSS_AT_RATE = r"(?:E|Loss|Error)_\s*"


# C and J: the cost, in the notation of some courses (J(w), Andrew Ng's)
_ERROR = r"(?:e|l|c|j|err|error|loss|cost|mse|sse)(?:total|tot|t|gesamt|ges)?"  # E_ges: German
_ACT = r"(?:a|out|act|σ|sigmoid|sigma|sig)"
# A single output, a single bias: students leave the number off (y, ŷ, o, b, δo, dE/db); "1" is meant. A bare
# t is not read as the target: it is as often a step counter.
_PATTERNS = [
    (re.compile(r"(?:i|in|input|x)(\d+)"), "i{}"),
    (re.compile(r"(?:t|target|y)(\d+)|(?:target|y)()"), "t{}"),
    (re.compile(r"(?:old)?(?:w|wt|weight)(\d+)(?:old|t)?"), "w{}"),  # w1_old, w1(t): this row's weight; wt1
    (re.compile(r"(?:b|bias)(\d*)"), "b{}"),
    # a bias named by its unit (b_h1, bias o1, b_hidden): a placeholder through_network() numbers
    (re.compile(r"(?:b|bias)(?:h|hidden)(\d*)"), "b_h{}"),
    (re.compile(r"(?:b|bias)(?:o|out|output)(\d*)"), "b_o{}"),
    (re.compile(r"(?:net)?h" + _H + r"(?:net)?"), "h{}"),
    (re.compile(_ACT + r"h" + _H + r"|h" + _H + r"(?:out|act)"), "a_h{}"),
    (re.compile(r"(?:net)?o(\d*)(?:net)?"), "o{}"),
    (re.compile(_ACT + r"o(\d*)|o(\d*)(?:out|act)|(?:yhat|ŷ|output|prediction|pred)(\d*)"), "a_o{}"),
    (re.compile(r"(?:e|err|error|loss)(\d+)"), "E{}"),
    (re.compile(_ERROR + r"|total(?:error|loss|cost|e)|e1\+e2|sum(?:e|error|loss)|esum"), "E_total"),
    (re.compile(r"d?" + _ERROR + r"d?w(\d+)|dw(\d+)|grad(?:ient)?s?w?(\d+)|w(\d+)grad(?:ient)?|gw?(\d+)|∇w?(\d+)"),
     "dE_total/dw{}"),  # w1.grad: PyTorch's spelling
    # in words: "derivative w1", "slope w1", "partial w1", "dE wrt w1", "derivative of E wrt w1"
    (re.compile(r"(?:d|derivative|deriv|partial|slope)(?:of)?(?:" + _ERROR + r")?(?:wrt)?w(\d+)"), "dE_total/dw{}"),
    (re.compile(r"d?" + _ERROR + r"d?(?:b|bias)(\d*)|db(\d*)|grad(?:ient)?s?b(\d*)|b(\d+)grad(?:ient)?|∇b(\d*)"),
     "dE_total/db{}"),
    (re.compile(r"d?" + _ERROR + r"d?(?:b|bias)(?:h|hidden)(\d*)|db(?:h|hidden)(\d*)"), "dE_total/db_h{}"),
    (re.compile(r"d?" + _ERROR + r"d?(?:b|bias)(?:o|out|output)(\d*)|db(?:o|out|output)(\d*)"), "dE_total/db_o{}"),
    (re.compile(r"d?" + _ERROR + r"d(?:net)?([ho]\d+(?:x\d+)?)|" + _ERROR + r"(?:net)?([ho]\d+(?:x\d+)?)"),
     "dE_total/d{}"),
    (re.compile(r"d?" + _ERROR + r"d(?:net)?o()|" + _ERROR + r"(?:net)?o()"), "dE_total/do{}"),
    # units numbered through the network (z1 z2 hidden, z3 the output; a3 its activation): placeholders that
    # through_network() turns into layer names once the row's weights and inputs say where each layer ends
    (re.compile(r"z(\d+)"), "z{}"),
    (re.compile(r"a(\d+)"), "a{}"),
]


def normalise(label):
    """'∂E_total / ∂W5 ' -> 'etotalw5' (the spelling-free core the patterns read)."""
    text = unicodedata.normalize("NFKC", str(label)).strip().lower()
    text = _LAYERED.sub(r"h\1x\2", _ASIDE.sub("", text))
    return _DROP.sub("", text)


def canonical(label):
    """The canonical quantity name a header label means, or None (counters, remarks, unknown helpers)."""
    if not isinstance(label, str) or not label.strip():
        return None
    text = unicodedata.normalize("NFKC", label).strip()
    suffix = ""
    m = _SUFFIX.search(text)
    if m:
        suffix, text = f"[{m.group(1)}]", text[:m.start()]
    plain = _MAZUR.fullmatch(re.sub(r"[\s_()]", "", text.lower()))
    if plain:  # Mazur's E_o1, the error at o1 (Loss_o1, MSE_o1, E(o1)), and target_o1: no ∂ sign, so not ∂E/∂o1
        return ("E{}" if plain.group(1) else "t{}").format(plain.group(2)) + suffix
    delta = _DELTA.match(text.lower())
    if delta:  # δo1: the error's derivative at o1's net input, not o1 itself
        unit = delta.group(1)
        return f"dE_total/d{unit if unit != 'o' else 'o1'}{suffix}"
    if _NEXT.search(text.lower()):
        return None  # w1' or "new w1": the next row's weight written beside this one, not a column to check
    name = _classify(normalise(text))
    aside = _ASIDE.search(text)
    if name is None and aside:
        name = _classify(normalise(aside.group(0).strip()))  # "Input (i1)": the name is in the brackets
    if name is None and "=" in text:
        # "h1 = w1*i1 + w2*i2", "E = E1+E2": a label that spells out its own formula
        text = text.split("=", 1)[0]
        name = _classify(normalise(text))
    if name is None:
        name = _after_its_kind(text)
    if name and re.fullmatch(r"[wbho]\d+", name) and any(ch in text for ch in _PARTIALS):
        name = f"dE_total/d{name}"  # "∂w1": a derivative even without the E
    return name + suffix if name else None


# Words that say what kind of quantity the symbol after them is ("weight w1", "Gewicht w1", "poids w1", "input
# i1", "target t1"), in the languages students write in; each with the names it may stand before.
_KINDS = {
    "w": "weight weights gewicht poids peso pesos",
    "i": "input inputs eingabe entrée entree entrada",
    "t": "target targets ziel zielwert cible objetivo",
    "b": "bias biais",
    "h": "net",
    "o": "net",
    "a_h": "activation aktivierung",
    "a_o": "output activation aktivierung ausgabe sortie salida prediction",
    "E": "error loss total fehler gesamtfehler erreur",
    "d": "derivative derivada dérivée derivee ableitung gradient gradiente slope partial",
}
# ("hidden h1", "output o1": the words as often name the unit's activation as its net input, which the numbers
# then tell; a label that does not say is left to them.)


def _after_its_kind(text):
    """'weight w1' -> w1: a symbol after words that name its kind; None for anything else."""
    words = text.split()
    if len(words) < 2:
        return None
    name = canonical(words[-1])
    kind = _kind(name) if name else None
    if not kind or not all(w.lower().strip(":") in _KINDS[kind].split() for w in words[:-1]):
        return None
    return name


def _kind(name):
    """The key of _KINDS a canonical name belongs under, or None."""
    if name.startswith("dE_total/d"):
        return "d"
    m = re.fullmatch(r"(a_[ho]|[witbhoE])(?:\d+|_total)", name)
    return m.group(1) if m else None


def in_group(name, label, group):
    """What a bare name means under a group label in the row above (a two-row header): w1 under
    '∂E_total/∂' or 'Gradients' is dE_total/dw1; under 'Updated weights' it is no quantity of this row."""
    if not isinstance(group, str) or not group.strip():
        return name
    if _NEXT.search(group.lower()):
        return None
    if not any(ch in group for ch in _PARTIALS + "∇/") and "grad" not in group.lower():
        return name  # only a derivative sign or word over it makes w1 a gradient
    combined = canonical(group.strip() + label.strip())
    return combined if combined and combined.startswith("dE_total/d") else name


def of_group(name, label, group):
    """A derivative written with its denominator only ('𝛿w_1') under a group label that gives the numerator
    ('𝛿C/' or '𝛿z_3/'): the error's derivative when the group's numerator is the error, else no quantity of
    the table (∂z3/∂w1, a helper); `name` when there is no such group."""
    if not isinstance(group, str) or not any(ch in group for ch in _PARTIALS + "/"):
        return name
    combined = canonical(group.strip() + label.strip())
    return combined if combined == name else None


def _classify(core):
    if not core or len(core) > 24:
        return None
    for pattern, template in _PATTERNS:
        m = pattern.fullmatch(core)
        if m:
            if "{}" not in template:
                return template
            number = next((g for g in m.groups() if g), None)
            return re.sub(r"(\d)x(\d)", r"\1_\2", template.format(number or "1"))
    return None


_THROUGH = re.compile(r"([zah])(\d+)")


def through_network(named):
    """A header row's [(col, name)] with units numbered through the network (z_1 z_2 in the hidden layer,
    z_3 the output; H1 or a_1 the activation of z_1) renamed to the layer names (h1, a_h1, o1, a_o1; h1_2
    with several hidden layers). The
    layer sizes are the ones under which the row's weights connect its inputs to its units; without z
    labels, or when no sizes fit, the placeholders are dropped and the rest is left as it is."""
    named = _unit_biases(named)
    names = [n for _, n in named]
    units = sorted({int(n[1:]) for n in names if re.fullmatch(r"z\d+", n)})
    inputs = len({n for n in names if re.fullmatch(r"i\d+", n)})
    weights = len({n for n in names if re.fullmatch(r"w\d+", n)})
    targets = len({n for n in names if re.fullmatch(r"t\d+", n)})
    sizes = _layer_sizes(inputs, len(units), weights, targets)
    if sizes is None:
        return [(c, n) for c, n in named if not re.fullmatch(r"[za]\d+", n)]
    hidden, _ = sizes
    names_of = [f"h{j + 1}" if len(hidden) == 1 else f"h{l + 1}_{j + 1}"
                for l, n in enumerate(hidden) for j in range(n)]
    names_of += [f"o{j + 1}" for j in range(len(units) - len(names_of))]
    layer = dict(zip(units, names_of))
    out = []
    for c, n in named:
        m = _THROUGH.fullmatch(n)
        if m and int(m.group(2)) in layer:
            unit = layer[int(m.group(2))]
            n = unit if m.group(1) == "z" else f"a_{unit}"  # H1 beside z_1: the activation, not the net input
        elif m and m.group(1) in "za":
            continue
        out.append((c, n))
    return out


_UNIT_BIAS = re.compile(r"(dE_total/d)?b_([ho])(\d+)")


def _unit_biases(named):
    """Biases named by their unit (b_h1, b_h2, b_o1) numbered as the network numbers them: b1, b2 for the
    hidden units, b3 for the output after them; one per layer (b_h, b_o: a shared bias each) b1, b2. Dropped
    where the row names no hidden units to count."""
    found = {(m.group(2), int(m.group(3))) for _, n in named if (m := _UNIT_BIAS.fullmatch(n))}
    if not found:
        return named
    hidden = len({m.group(1) for _, n in named if (m := re.fullmatch(r"(?:a_)?h(\d+)(?:\[\d+\])?", n))})
    shared = {unit for _, unit in found} == {1} and len({layer for layer, _ in found}) == len(found)
    out = []
    for c, n in named:
        m = _UNIT_BIAS.fullmatch(n)
        if m and hidden:
            k = int(m.group(3)) if not shared else 1
            n = f"{m.group(1) or ''}b{k if m.group(2) == 'h' else (2 if shared else hidden + k)}"
        elif m:
            continue
        out.append((c, n))
    return out


def _layer_sizes(inputs, units, weights, targets=0):
    """(hidden layer sizes, outputs) such that `inputs` -> hidden layers -> outputs units hold `weights`
    weights, or None. As many outputs as targets where the row names targets."""
    if not units or not inputs:
        return None
    outputs = [targets] if 0 < targets <= units else range(units - 1, 0, -1)

    def fits(layers):
        sizes = (inputs, *layers)
        return sum(a * b for a, b in zip(sizes, sizes[1:])) == weights
    # one hidden layer where one fits: units numbered from 1 through two layers are as common as a single
    # neuron numbered after its inputs (z3 for x1, x2), which has no other reading; two hidden layers only
    # where exactly one split fits
    for out in outputs:
        if units > out and fits((units - out, out)):
            return (units - out,), out
    if fits((units,)) if not targets or targets == units else False:
        return (), units
    deep = [((a, units - out - a), out) for out in outputs for a in range(1, units - out)
            if fits((a, units - out - a, out))]
    return deep[0] if len(deep) == 1 else None
