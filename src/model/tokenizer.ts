/**
 * Tokenizer and chat template of a Hugging Face model directory: tokenizer.json through
 * @huggingface/tokenizers, the chat_template of tokenizer_config.json through
 * @huggingface/jinja (both the libraries transformers.js uses, so real exports load unchanged).
 */

import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { ModelLoadError } from "../errors.ts";

/** One chat message (OpenAI shape; content is plain text), as the chat template renders it. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export class TextTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly template: Template | null;
  private readonly specialTokens: Record<string, string>;
  /** Number of ids the tokenizer can produce (base vocabulary plus added tokens). */
  readonly size: number;

  /**
   * @param dir directory named in errors
   * @param tokenizerJson parsed tokenizer.json
   * @param tokenizerConfig parsed tokenizer_config.json
   */
  constructor(
    dir: string,
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
  ) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new ModelLoadError(
        `${dir}/tokenizer.json`,
        `cannot build the tokenizer: ${(e as Error).message}`,
      );
    }
    const vocab = this.tokenizer.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.size = maxId + 1;
    const template = tokenizerConfig.chat_template;
    this.template = null;
    if (typeof template === "string") {
      try {
        this.template = new Template(template);
      } catch (e) {
        throw new ModelLoadError(
          `${dir}/tokenizer_config.json`,
          `chat_template does not parse: ${(e as Error).message}`,
        );
      }
    }
    this.specialTokens = {};
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"]) {
      const v = tokenizerConfig[key];
      const content = typeof v === "string" ? v : (v as { content?: string } | null)?.content;
      if (typeof content === "string") this.specialTokens[key] = content;
    }
  }

  /** Whether a chat template is available. */
  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /** Token ids of `text`; special-token strings in the text map to their ids. */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Text of `ids`; special tokens are dropped unless `keepSpecial`. */
  decode(ids: number[], keepSpecial = false): string {
    if (ids.length === 0) return "";
    return this.tokenizer.decode(ids, {
      skip_special_tokens: !keepSpecial,
      clean_up_tokenization_spaces: false,
    });
  }

  /** Id of a token string, if it exists. */
  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** Renders chat messages with the model's template, ending with the assistant's turn. */
  renderChat(messages: ChatMessage[]): string {
    if (!this.template) {
      throw new ModelLoadError("tokenizer_config.json", "the model has no chat_template");
    }
    return this.template.render({ messages, add_generation_prompt: true, ...this.specialTokens });
  }
}
