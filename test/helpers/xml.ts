/**
 * A strict well-formedness check of an XML document (what an SVG viewer needs): one root,
 * balanced tags, quoted attributes, no stray `<` or bare `&` in text. Throws naming the problem.
 */
export function checkXml(text: string): void {
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"<]*")*)\s*(\/?)>/y;
  const entity = /&(?:[a-z]+|#\d+|#x[\da-f]+);/iy;
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "<") {
      if (text.startsWith("<!--", i)) {
        const end = text.indexOf("-->", i);
        if (end < 0) throw new Error(`unclosed comment at ${i}`);
        i = end + 3;
        continue;
      }
      tag.lastIndex = i;
      const m = tag.exec(text);
      if (!m) throw new Error(`malformed tag at ${i}: ${text.slice(i, i + 40)}`);
      const [whole, closing, name, , selfClosing] = m;
      if (closing) {
        const open = stack.pop();
        if (open !== name) throw new Error(`</${name}> closes <${open}> at ${i}`);
      } else {
        if (stack.length === 0 && ++roots > 1) throw new Error(`a second root <${name}> at ${i}`);
        if (!selfClosing) stack.push(name);
      }
      i += whole.length;
    } else if (ch === "&") {
      entity.lastIndex = i;
      const m = entity.exec(text);
      if (!m) throw new Error(`bare & at ${i}`);
      i += m[0].length;
    } else {
      if (stack.length === 0 && ch.trim() !== "") throw new Error(`text outside the root at ${i}`);
      i++;
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]}>`);
  if (roots !== 1) throw new Error("no root element");
}
