import { command, type ArgSpec, type CommandSpec } from '../command-table';

/**
 * Token counting (TOK.*): exact counts for OpenAI encodings. No keys: these commands read no
 * state except the count cache. Counting is linear in the text, so none is `fast`, except
 * TOK.INFO (a table lookup).
 */

const SINCE = '0.1.0';
const model: ArgSpec = { name: 'model', type: 'string' };
const text: ArgSpec = { name: 'text', type: 'string' };
const tok = (name: string, extra: Partial<CommandSpec> & Pick<CommandSpec, 'arity' | 'summary'>): CommandSpec =>
  command({ name, group: 'tokens', since: SINCE, flags: ['readonly'], acl: ['read', 'slow'], complexity: 'O(N) where N is the length of the text.', ...extra });

export const tokenCommands: CommandSpec[] = [
  tok('tok.count', {
    arity: 3,
    summary: "Returns the number of tokens in the text for the model's encoding (special-token strings count as ordinary text).",
    arguments: [model, text],
  }),
  tok('tok.chat', {
    arity: -3,
    summary: "Returns the prompt tokens of a chat request's messages (and tool definitions), by the OpenAI cookbook's accounting.",
    complexity: 'O(N) where N is the length of the JSON.',
    arguments: [
      model,
      { name: 'messages-json', type: 'string' },
      { name: 'tools-json', type: 'string', token: 'TOOLS', optional: true },
    ],
  }),
  tok('tok.within', {
    arity: 4,
    summary: 'Returns the token count if it is at most the limit, else -1; stops counting once past the limit.',
    complexity: 'O(N) where N is the length of the text up to where the limit is passed.',
    arguments: [model, { name: 'limit', type: 'integer' }, text],
  }),
  tok('tok.encode', {
    arity: 3,
    summary: 'Returns the token ids of the text (as ordinary text).',
    arguments: [model, text],
  }),
  tok('tok.decode', {
    arity: -3,
    summary: 'Returns the text of token ids.',
    complexity: 'O(N) where N is the number of ids.',
    arguments: [model, { name: 'id', type: 'integer', multiple: true }],
  }),
  tok('tok.info', {
    arity: 2,
    flags: ['readonly', 'fast'],
    acl: ['read', 'fast'],
    summary: "Returns a model's encoding, context window and most output tokens (nil when unknown).",
    complexity: 'O(1)',
    arguments: [model],
  }),
];
