import { command, reply, type ArgSpec, type CommandSpec } from '../command-table';

const { field } = reply;

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
    reply: reply.integer('Tokens in the text.'),
    summary: "Returns the number of tokens in the text for the model's encoding (special-token strings count as ordinary text).",
    arguments: [model, text],
  }),
  tok('tok.chat', {
    arity: -3,
    reply: reply.integer('Prompt tokens of the request.'),
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
    reply: reply.integer('Tokens in the text, when at most the limit.', -1),
    summary: 'Returns the token count if it is at most the limit, else -1; stops counting once past the limit.',
    complexity: 'O(N) where N is the length of the text up to where the limit is passed.',
    arguments: [model, { name: 'limit', type: 'integer' }, text],
  }),
  tok('tok.encode', {
    arity: 3,
    reply: reply.array('The token ids.', reply.integer('A token id.')),
    summary: 'Returns the token ids of the text (as ordinary text).',
    arguments: [model, text],
  }),
  tok('tok.decode', {
    arity: -3,
    reply: reply.bulk('The text (bytes that are not valid UTF-8 pass through as they are).'),
    summary: 'Returns the text of token ids.',
    complexity: 'O(N) where N is the number of ids.',
    arguments: [model, { name: 'id', type: 'integer', multiple: true }],
  }),
  tok('tok.info', {
    arity: 2,
    flags: ['readonly', 'fast'],
    acl: ['read', 'fast'],
    reply: reply.map('What Sluice knows of the model.', [
      field('encoding', 'bulk', 'The tokenizer: o200k_base, cl100k_base, ...'),
      field('context_window', 'integer', 'Tokens of context.', { none: 'nil' }),
      field('max_output_tokens', 'integer', 'Most tokens one reply may have.', { none: 'nil' }),
    ]),
    summary: "Returns a model's encoding, context window and most output tokens (nil when unknown).",
    complexity: 'O(1)',
    arguments: [model],
  }),
];
