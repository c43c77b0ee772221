// Generated hostile input for any HTTP surface: a valid request of the surface, bent one or more
// ways (method, target, version, headers, token, body, framing), or bytes that are not HTTP at
// all; sent as a client would, or pipelined, split into pieces, trickled, half-closed or cut off.

import fc from 'fast-check';

/** A request in parts, rendered to bytes by `render`. */
export interface RequestParts {
  method: string;
  target: string;
  version: string;
  /** In order; a name may repeat. Content-Length and Transfer-Encoding come from `framing`. */
  headers: (readonly [string, string])[];
  body: Buffer;
  /**
   * `length`: Content-Length of the body; `chunked`: chunked encoding; `none`: no framing header;
   * `raw`: the headers say it all (a test's own framing); `short`: a Content-Length longer than
   * what is sent (a truncated body).
   */
  framing: 'length' | 'chunked' | 'none' | 'raw' | 'short';
  lineEnd: string;
}

export function render(request: RequestParts): Buffer {
  const { lineEnd } = request;
  const framing: string[] = [];
  let body = request.body;
  if (request.framing === 'length') framing.push(`Content-Length: ${body.length}`);
  if (request.framing === 'short') framing.push(`Content-Length: ${body.length + 1}`);
  if (request.framing === 'chunked') {
    framing.push('Transfer-Encoding: chunked');
    body = Buffer.concat([
      Buffer.from(body.length > 0 ? `${body.length.toString(16)}\r\n` : ''),
      body,
      Buffer.from(body.length > 0 ? '\r\n0\r\n\r\n' : '0\r\n\r\n'),
    ]);
  }
  const head = [`${request.method} ${request.target} ${request.version}`, ...request.headers.map(([name, value]) => `${name}: ${value}`), ...framing].join(
    lineEnd,
  );
  return Buffer.concat([Buffer.from(`${head}${lineEnd}${lineEnd}`, 'latin1'), body]);
}

/** What a surface tells the generator about itself. */
export interface SurfaceShape {
  /** A request the surface answers with 2xx. */
  valid: RequestParts;
  /** The body cap, when the surface has one: oversized bodies go past it. */
  bodyCap?: number;
}

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = (maxLength: number) => fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength });
/** Any byte as a latin1 character: control characters, DEL, obs-text, CR and LF included. */
const anyByteString = (maxLength: number) => fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes).toString('latin1'));
/** Text the way a UTF-8 client writes it, read back byte by byte. */
const utf8AsLatin1 = (maxLength: number) => fc.string({ unit: 'binary', maxLength }).map((text) => Buffer.from(text, 'utf8').toString('latin1'));

const method = fc.oneof(
  fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'PURGE', 'QUERY', 'PRI'),
  fc.constantFrom('get', 'Post', 'G ET', '', 'GET\t', 'POST POST'),
  token(12),
  token(2_000),
  anyByteString(16),
);

const target = fc.oneof(
  fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)),
  fc.constantFrom('*', '', 'mutate', '//', '/..', '/%', '/%zz', '/%00', '/?', '/#x', 'http://evil.example/x', 'evil.example:443', '/\u0000', '/ x'),
  utf8AsLatin1(40).map((text) => `/${text}`),
  fc.integer({ min: 4_000, max: 40_000 }).map((length) => `/${'a'.repeat(length)}`),
);

const version = fc.oneof(
  fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
  fc.constantFrom('HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/9.9', 'HTTP/1.1x', 'http/1.1', 'HTTP/1', 'HTTP/', '', 'HTTP/1.1 extra', 'ICE/1.0'),
);

const headerValue = fc.oneof(utf8AsLatin1(40), anyByteString(40), fc.constantFrom('', ' ', '\t', 'a\r\nInjected: yes', 'a\nb', 'x\u0000y'));

/** One way a header list can be bent. */
const headerMutation = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), name: fc.oneof(token(20), anyByteString(12)), value: headerValue }),
  fc.record({ kind: fc.constant('many' as const), count: fc.integer({ min: 100, max: 3_000 }) }),
  fc.record({ kind: fc.constant('huge' as const), size: fc.integer({ min: 8_000, max: 40_000 }) }),
  fc.record({
    kind: fc.constant('framing' as const),
    fields: fc.constantFrom<[string, string][]>(
      [
        ['Content-Length', '1'],
        ['Content-Length', '2'],
      ],
      [['Content-Length', 'abc']],
      [['Content-Length', '-1']],
      [['Content-Length', '99999999999999999999']],
      [['Content-Length', '1, 1']],
      [
        ['Transfer-Encoding', 'chunked'],
        ['Content-Length', '3'],
      ],
      [['Transfer-Encoding', 'gzip']],
      [['Transfer-Encoding', 'chunked, identity']],
      [
        ['Transfer-Encoding', 'chunked'],
        ['Transfer-Encoding', 'chunked'],
      ],
      [['Expect', '100-continue']],
      [['Expect', 'the-unexpected']],
      [
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
      ],
      [
        ['Connection', 'Upgrade'],
        ['Upgrade', 'h2c'],
      ],
      [['Connection', 'close, content-length, host']],
      [
        ['Host', 'a'],
        ['Host', 'b'],
      ],
    ),
  }),
  fc.record({ kind: fc.constant('drop' as const), name: fc.constantFrom('host', 'content-type', 'authorization') }),
);

/** A bearer token bent: absent, not a bearer, garbage, huge, doubled. */
const tokenMutation = fc.oneof(
  fc.constant<string | undefined>(undefined),
  fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer  x y', 'Bearer\ttab', 'Token abc'),
  token(64).map((t) => `Bearer ${t}`),
  utf8AsLatin1(64).map((t) => `Bearer ${t}`),
  fc.integer({ min: 2_000, max: 12_000 }).map((length) => `Bearer ${'x'.repeat(length)}`),
);

const jsonBody = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.constantFrom('null', '[]', '{}', '"x"', '0', 'true', '{"a":', '{]', '\u0000', '{"__proto__":{"x":1}}'),
  fc.integer({ min: 1_000, max: 50_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc
    .integer({ min: 1_000, max: 20_000 })
    .map((depth) => '{"apiVersion":' + '['.repeat(depth) + ']'.repeat(depth) + ',"kind":' + '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) + '}'),
);

const DEEP = '\u0000deep\u0000';

/** Every path to a value inside a JSON value, the root's ([]) first. */
function pathsOf(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [path];
  const children = Array.isArray(value)
    ? value.map((item, index) => pathsOf(item, [...path, index]))
    : Object.entries(value).map(([key, item]) => pathsOf(item, [...path, key]));
  return [path, ...children.flat()];
}

/** `value` with the value at `path` replaced (or removed, for undefined). */
function replacedAt(value: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [key, ...rest] = path;
  const copy = (Array.isArray(value) ? [...(value as unknown[])] : { ...(value as Record<string, unknown>) }) as Record<string | number, unknown>;
  if (rest.length === 0 && replacement === undefined) delete copy[key!];
  else copy[key!] = replacedAt(copy[key!], rest, replacement);
  return copy;
}

/**
 * The surface's valid JSON body with one value, anywhere in it, of the wrong type or shape:
 * another JSON value, gone, a string of 100 KiB, or arrays nested thousands deep (written as text:
 * JSON.stringify itself cannot).
 */
const jsonShapeMutation = (body: Buffer) => {
  let valid: unknown;
  try {
    valid = JSON.parse(body.toString('utf8'));
  } catch {
    return fc.constant(body);
  }
  const replacement = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(undefined, null, '', 0, -1, 1e308, true, [], {}, 'x'.repeat(100_000)),
    fc.integer({ min: 5_000, max: 50_000 }).map((depth) => ({ [DEEP]: depth })),
  );
  // Half the time a top-level field: those are what a server checks first.
  const paths = pathsOf(valid);
  const topLevel = paths.filter((path) => path.length === 1);
  const path = fc.oneof(fc.constantFrom(...paths), fc.constantFrom(...(topLevel.length > 0 ? topLevel : paths)));
  return fc.record({ path, replacement }).map(({ path: at, replacement: value }) => {
    const text = JSON.stringify(replacedAt(valid, at, value)) ?? '';
    return Buffer.from(
      text.replace(/\{"\\u0000deep\\u0000":(\d+)\}/, (_, depth: string) => '['.repeat(Number(depth)) + ']'.repeat(Number(depth))),
      'utf8',
    );
  });
};

/** One way a body can be bent; `cap` is the surface's body cap, if any. */
const bodyMutation = (shape: SurfaceShape) =>
  fc.oneof(
    { weight: 3, arbitrary: jsonShapeMutation(shape.valid.body) },
    jsonBody.map((text) => Buffer.from(text, 'utf8')),
    fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
    // Invalid UTF-8 inside the valid body: a lone continuation byte, an overlong form, a surrogate.
    fc
      .record({ at: fc.nat(), bytes: fc.constantFrom([0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff, 0xfe], [0xf4, 0x90, 0x80, 0x80]) })
      .map(({ at, bytes }) => {
        const body = shape.valid.body;
        const cut = body.length === 0 ? 0 : at % body.length;
        return Buffer.concat([body.subarray(0, cut), Buffer.from(bytes), body.subarray(cut)]);
      }),
    // Truncated: the valid body cut short (sent with its real length, so the server sees it end).
    fc.nat().map((at) => shape.valid.body.subarray(0, shape.valid.body.length === 0 ? 0 : at % shape.valid.body.length)),
    // A request as the body: what a forwarding hop must never let through as a request of its own.
    fc.constant(render(shape.valid)),
    // Oversized: past the cap, or 64 KiB to 1 MiB where there is none.
    fc.integer({ min: 1, max: 4 }).map((times) => Buffer.alloc(shape.bodyCap ? shape.bodyCap * times + 1 : 2 ** 16 * 2 ** times, 'x')),
  );

const mutation = (shape: SurfaceShape) =>
  fc.oneof(
    fc.record({ kind: fc.constant('method' as const), value: method }),
    fc.record({ kind: fc.constant('target' as const), value: target }),
    fc.record({ kind: fc.constant('version' as const), value: version }),
    fc.record({ kind: fc.constant('header' as const), value: headerMutation }),
    fc.record({ kind: fc.constant('token' as const), value: tokenMutation }),
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('body' as const), value: bodyMutation(shape) }) },
    fc.record({ kind: fc.constant('framing' as const), value: fc.constantFrom<RequestParts['framing']>('length', 'chunked', 'none', 'short') }),
    fc.record({ kind: fc.constant('lineEnd' as const), value: fc.constantFrom('\n', '\r', '\r\r\n', '\n\r') }),
  );

type Mutation = ReturnType<typeof mutation> extends fc.Arbitrary<infer M> ? M : never;

function withoutHeader(headers: RequestParts['headers'], lowerName: string): RequestParts['headers'] {
  return headers.filter(([name]) => name.toLowerCase() !== lowerName);
}

function apply(request: RequestParts, change: Mutation): RequestParts {
  switch (change.kind) {
    case 'method':
      return { ...request, method: change.value };
    case 'target':
      return { ...request, target: change.value };
    case 'version':
      return { ...request, version: change.value };
    case 'lineEnd':
      return { ...request, lineEnd: change.value };
    case 'framing':
      return { ...request, framing: change.value };
    case 'body':
      return { ...request, body: change.value, framing: request.framing === 'none' ? 'length' : request.framing };
    case 'token': {
      const headers = withoutHeader(request.headers, 'authorization');
      return { ...request, headers: change.value === undefined ? headers : [...headers, ['Authorization', change.value]] };
    }
    case 'header': {
      const edit = change.value;
      switch (edit.kind) {
        case 'add':
          return { ...request, headers: [...request.headers, [edit.name, edit.value]] };
        case 'many':
          return { ...request, headers: [...request.headers, ...Array.from({ length: edit.count }, (_, i) => [`x-many-${i}`, 'v'] as const)] };
        case 'huge':
          return { ...request, headers: [...request.headers, ['X-Huge', 'h'.repeat(edit.size)]] };
        case 'framing':
          return { ...request, framing: 'raw', headers: [...request.headers, ...edit.fields] };
        case 'drop':
          return { ...request, headers: withoutHeader(request.headers, edit.name) };
      }
    }
  }
}

/** What one generated case does on its connection. */
export interface FuzzCase {
  /** The requests it sends, rendered; their methods (for HEAD answers). */
  requests: Buffer[];
  methods: string[];
  /** How the bytes go out. */
  delivery: 'whole' | 'pipelined' | 'split' | 'trickle' | 'half-close' | 'cut-off';
  /** Split points, as fractions of the bytes (split and trickle). */
  cuts: number[];
  /** Bytes that are not HTTP at all, when the case is that. */
  garbage: boolean;
  /**
   * Whether the server can tell that every request has ended. Not so when a request promises more
   * body than it sends, or frames itself oddly: the server rightly waits for the rest, so such a
   * case, unanswered, half-closes to say there is no more.
   */
  complete: boolean;
  /** Whether the bytes are exactly the requests: not so when a body goes unframed, and reads as another request. */
  framed: boolean;
  [fc.toStringMethod](): string;
}

/** The case as a failure report shows it: the first bytes of each request, escaped, and the sizes. */
function describeCase(fuzz: Omit<FuzzCase, typeof fc.toStringMethod>): string {
  const requests = fuzz.requests.map(
    (bytes) => `${JSON.stringify(bytes.subarray(0, 300).toString('latin1'))}${bytes.length > 300 ? `… (${bytes.length} bytes)` : ''}`,
  );
  return `${fuzz.delivery}${fuzz.complete ? '' : ' (incomplete)'} cuts=${JSON.stringify(fuzz.cuts)}: ${requests.join(' + ')}`;
}

/** A case: the surface's valid request bent 1-3 ways, or garbage; delivered one of several ways. */
export function fuzzCase(shape: SurfaceShape): fc.Arbitrary<FuzzCase> {
  const bent = fc.array(mutation(shape), { minLength: 1, maxLength: 3 }).map((changes) => changes.reduce(apply, shape.valid));
  const garbage = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 2_048 }).map((bytes) => Buffer.from(bytes)),
    // A TLS ClientHello's first bytes on a plain port, a plain request on the TLS one, HTTP/2's preface.
    fc.constantFrom(
      Buffer.from('16030100c4010000c00303', 'hex'),
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      Buffer.from('\r\n\r\n\r\n'),
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    ),
  );
  const delivery = fc.constantFrom<FuzzCase['delivery']>('whole', 'whole', 'whole', 'split', 'trickle', 'half-close', 'cut-off');
  const cuts = fc.array(
    fc.integer({ min: 1, max: 999 }).map((permille) => permille / 1000),
    { minLength: 1, maxLength: 12 },
  );
  const requests = fc.oneof(
    { weight: 3, arbitrary: bent.map((request) => [request]) },
    // Pipelined: bent requests between valid ones.
    { weight: 1, arbitrary: fc.array(fc.oneof(bent, fc.constant(shape.valid)), { minLength: 2, maxLength: 5 }) },
  );
  return fc
    .oneof(
      {
        weight: 9,
        arbitrary: fc.record({ requests, delivery, cuts }).map(({ requests: parts, delivery: how, cuts: at }) => ({
          requests: parts.map(render),
          methods: parts.map((request) => request.method),
          delivery: parts.length > 1 && how === 'whole' ? ('pipelined' as const) : how,
          cuts: at,
          garbage: false,
          complete: parts.every((request) => request.framing !== 'short' && request.framing !== 'raw'),
          framed: parts.every(
            (request) => request.framing === 'length' || request.framing === 'chunked' || (request.framing === 'none' && request.body.length === 0),
          ),
        })),
      },
      {
        weight: 1,
        arbitrary: fc.record({ garbage, delivery, cuts }).map(({ garbage: bytes, delivery: how, cuts: at }) => ({
          requests: [bytes],
          methods: ['GARBAGE'],
          delivery: how,
          cuts: at,
          garbage: true,
          // Bytes may be the start of a request the server rightly waits to see the rest of.
          complete: false,
          framed: false,
        })),
      },
    )
    .map((fuzz) => ({ ...fuzz, [fc.toStringMethod]: () => describeCase(fuzz) }));
}

/** The case's bytes as writes: whole, or cut at its split points. */
export function writesOf(fuzz: FuzzCase): Buffer[] {
  const bytes = Buffer.concat(fuzz.requests);
  if (fuzz.delivery === 'whole' || fuzz.delivery === 'pipelined' || fuzz.delivery === 'half-close') return [bytes];
  const points = [...new Set(fuzz.cuts.map((cut) => Math.floor(cut * bytes.length)))].filter((at) => at > 0 && at < bytes.length).sort((a, b) => a - b);
  if (fuzz.delivery === 'cut-off') return [bytes.subarray(0, points[0] ?? Math.floor(bytes.length / 2))];
  const writes: Buffer[] = [];
  let from = 0;
  for (const at of [...points, bytes.length]) {
    writes.push(bytes.subarray(from, at));
    from = at;
  }
  return writes;
}
