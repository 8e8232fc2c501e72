"""Byte-level BPE encoding in plain Python, written to give the same ids as the JS
@huggingface/tokenizers package (ByteLevel pre-tokenizer with the GPT-2 regex, BPE model,
added special tokens split out first).

Debian's python has no `regex` module (no \\p{L}), so the GPT-2 pattern
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
is implemented as a small scanner that tries the alternatives in the same order.
"""
import json
import unicodedata

# JavaScript's \s (the JS tokenizer's regex is a JS RegExp with the u flag).
_JS_SPACE = set("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {
    chr(c) for c in range(0x2000, 0x200B)
}
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def _is_space(ch):
    return ch in _JS_SPACE


def _is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def _is_number(ch):
    return unicodedata.category(ch).startswith("N")


def _is_other(ch):
    return not (_is_space(ch) or _is_letter(ch) or _is_number(ch))


def pretokenize(text):
    """Split text exactly like the GPT-2 regex (alternatives tried left to right)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        # 1. contractions
        hit = None
        for c in _CONTRACTIONS:
            if text.startswith(c, i):
                hit = c
                break
        if hit:
            out.append(hit)
            i += len(hit)
            continue
        # 2-4. optional single space followed by a run of one class
        j = i + 1 if (text[i] == " " and i + 1 < n) else i
        matched = False
        for cls in (_is_letter, _is_number, _is_other):
            if j < n and cls(text[j]):
                k = j
                while k < n and cls(text[k]):
                    k += 1
                out.append(text[i:k])
                i = k
                matched = True
                break
        if matched:
            continue
        if not _is_space(text[i]):
            # " " handled above; any other char matches alternative 4 on its own
            k = i + 1
            out.append(text[i:k])
            i = k
            continue
        # 5. \s+(?!\S): whitespace run, giving back its last char if a non-space follows
        k = i
        while k < n and _is_space(text[k]):
            k += 1
        if k == n:
            out.append(text[i:k])
            i = k
        elif k - 1 > i:
            out.append(text[i:k - 1])
            i = k - 1
        else:
            # 6. \s+ (a single whitespace char before a non-space)
            out.append(text[i:k])
            i = k
    return out


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode char map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE2CHAR = bytes_to_unicode()
CHAR2BYTE = {c: b for b, c in BYTE2CHAR.items()}


def word_to_symbols(word):
    return [BYTE2CHAR[b] for b in word.encode("utf-8")]


class BPETokenizer:
    def __init__(self, vocab, merges, specials):
        self.vocab = vocab  # token string -> id (model vocab, no specials)
        self.inv = {i: t for t, i in vocab.items()}
        self.ranks = {tuple(m): r for r, m in enumerate(merges)}
        self.specials = dict(specials)  # special string -> id
        for s, i in self.specials.items():
            self.inv[i] = s
        self.cache = {}

    @classmethod
    def from_file(cls, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        merges = [m.split(" ") if isinstance(m, str) else m for m in tj["model"]["merges"]]
        specials = {t["content"]: t["id"] for t in tj["added_tokens"]}
        return cls(tj["model"]["vocab"], merges, specials)

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        syms = word_to_symbols(word)
        while len(syms) > 1:
            best, best_rank = None, None
            for a, b in zip(syms, syms[1:]):
                r = self.ranks.get((a, b))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = (a, b), r
            if best is None:
                break
            merged, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == best[0] and syms[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(syms[i])
                    i += 1
            syms = merged
        ids = [self.vocab[s] for s in syms]
        self.cache[word] = ids
        return ids

    def encode_plain(self, text):
        ids = []
        for w in pretokenize(text):
            ids.extend(self._bpe(w))
        return ids

    def encode(self, text):
        """Encode with special tokens split out first (as HF added_tokens do)."""
        ids = []
        i = 0
        while i < len(text):
            nxt, nxt_tok = None, None
            for s in self.specials:
                p = text.find(s, i)
                if p != -1 and (nxt is None or p < nxt):
                    nxt, nxt_tok = p, s
            if nxt is None:
                ids.extend(self.encode_plain(text[i:]))
                break
            if nxt > i:
                ids.extend(self.encode_plain(text[i:nxt]))
            ids.append(self.specials[nxt_tok])
            i = nxt + len(nxt_tok)
        return ids

    def decode(self, ids, skip_special=False):
        out, buf = [], []
        for i in ids:
            t = self.inv[i]
            if t in self.specials:
                if buf:
                    out.append(bytes(buf).decode("utf-8", errors="replace"))
                    buf = []
                if not skip_special:
                    out.append(t)
            else:
                buf.extend(CHAR2BYTE[c] for c in t)
        if buf:
            out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)
