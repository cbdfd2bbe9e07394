// Documentation snippet check: every ```ts block in the READMEs, docs/ and TSDoc @example comments is
// type-checked against the packages' source, so a snippet cannot silently drift from the API.
//
// Usage: node scripts/check-snippets.mjs [--self-test] [--list]
//   (no flag)    check all snippets, and the built-in self-test fixtures in the same program: known-bad
//                snippets must be reported and known-good ones not, else the run fails (the check can fail)
//   --self-test  check only the fixtures
//   --list       also print each snippet's origin, its placeholders, and what the tool imported or typed
//
// What is collected
//   - ```ts / ```typescript fences in README.md, docs/**/*.md, packages/*/README.md and packages/*/src/**/*.md;
//   - ```ts fences inside the @example section of /** TSDoc */ comments in packages/*/src/**/*.ts.
//   A fence whose info string contains `no-check` (```ts no-check) is skipped: only for deliberately invalid
//   code or pseudo-code, with the reason next to it.
//
// How each snippet is compiled
//   - As its own ES module (an in-memory .mts file next to its origin; nothing is written), all snippets in
//     ONE TypeScript program (plus a second one reusing its parsed files once the free names are resolved),
//     with tsconfig.base.json's checking options (strict, noUncheckedIndexedAccess, ...), module NodeNext,
//     target ES2022 (top-level await allowed). `@kms-envelope/<pkg>` resolves to packages/<pkg>/src as in
//     tsconfig.json; other imports resolve from the snippet's directory (its package's node_modules).
//     verbatimModuleSyntax and isolatedModules are off (emit rules, not API facts: `import { SomeType }` is
//     fine in a reader's project).
//   - Line numbers are kept: what the tool adds (exports, imports, declarations) is appended after the code.
//   - A free name (used, neither declared nor imported by the snippet) resolves, in this order, to:
//     1. Markdown: the latest earlier snippet of the same file that declares or imports it at top level (a
//        document reads top to bottom: `envelope` in the third block is the one the first block built).
//     2. If the name is used as an API (called, `new`, `X.y`, `instanceof X`, a type) and the snippet does
//        not already import from that module: an export of the snippet's own package (a README's package; the
//        root README and docs/ count as core); in a TSDoc example, of the commented source file; of
//        @kms-envelope/core; or a well-known Node.js / AWS SDK name (WELL_KNOWN below). A name only handed
//        around as a value (`f(datasetGroupArn)`, `{ roleArn }`) is never auto-imported: a placeholder may
//        share an export's name.
//     3. TSDoc of a class or interface member `m`: a free `x` used as `x.m` is an instance of that type.
//     4. A conventional name (GLOSSARY below: `envelope`, `hierarchy`, `kms`, `client`, `engine`, ...) is
//        typed as its object; a name ending in Arn or KeyId (`keyArn`, `rootKeyId`) is a string.
//     5. Else it is a PLACEHOLDER (`ciphertext`, `contactId`, `store`): its "Cannot find name" diagnostic
//        (TS2304, TS2552, TS2503, TS18004, TS258x/259x) is not reported, and TypeScript gives it an error type
//        that behaves as `any`, so nothing it flows into is reported either; an untyped callback parameter
//        (TS7006/7019/7031) is not reported when the callee is such an untyped value.
//
// What fails (file:line:col of the snippet's origin, TS code, message)
//   - every other syntactic or semantic diagnostic: wrong property or method names, wrong argument counts or
//     types against real imported APIs, a missing export, an unknown option in an object literal, a wrong
//     result shape, an unused `// @ts-expect-error`, ...;
//   - `await` on a value that is not a promise (TS80007, a suggestion TypeScript does not report by itself):
//     the API became synchronous but the snippet still awaits it.
//
// What is NOT checked (limits)
//   - anything reached only through a placeholder (its type is unknown): `store.put()` is not checked unless
//     `store` is declared, imported, carried from an earlier block, a documented member's receiver or in the
//     glossary;
//   - a misspelled free name that nothing above resolves is taken for a placeholder;
//   - a promise that is not awaited (an API that became async) when its result is not used;
//   - other languages (```sh, ```json) and runtime behaviour: snippets are type-checked, never run
//     (examples/ are run by `pnpm demo`).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const args = new Set(process.argv.slice(2))
const selfTestOnly = args.has('--self-test')
const started = performance.now()

/** "Cannot find name" family: a free identifier, i.e. a placeholder once auto-imports are done. */
const PLACEHOLDER_CODES = new Set([
  2304, // Cannot find name 'x'.
  2503, // Cannot find namespace 'x'.
  2552, // Cannot find name 'x'. Did you mean 'y'?
  2580,
  2581,
  2582,
  2583,
  2584,
  2591,
  2592,
  2593, // Cannot find name 'x'. Do you need to install/change ...?
  18004, // No value exists in scope for the shorthand property 'x'.
])
/** noImplicitAny on a callback's parameters: not reported when the callee is a placeholder (untyped). */
const IMPLICIT_ANY_CODES = new Set([
  7006, // Parameter 'x' implicitly has an 'any' type.
  7031, // Binding element 'x' implicitly has an 'any' type.
  7019, // Rest parameter 'x' implicitly has an 'any[]' type.
])
/** Suggestion diagnostics that are failures in a snippet. */
const SUGGESTION_CODES = new Set([
  80007, // 'await' has no effect on the type of this expression.
])

// ---------------------------------------------------------------------------------------------------------
// Collect

const packageNames = readdirSync(join(root, 'packages')).filter((name) => {
  try {
    return statSync(join(root, 'packages', name, 'src', 'index.ts')).isFile()
  } catch {
    return false
  }
})

function walk(dir, accept, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path, accept, out)
    else if (accept(entry.name)) out.push(path)
  }
  return out
}

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\b(.*)$/
const fenceClose = (fence) => new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`)

/**
 * Fenced ```ts blocks of `lines` (already stripped of any comment prefix; `offsets[i]` = columns stripped).
 * @returns {{ line: number, text: string, offsets: number[], skip: boolean }[]} line: 1-based, first code line
 */
function fencedBlocks(lines, offsets, accept = () => true, within = () => true) {
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i])
    if (!open || !accept(i)) continue
    const [, indent, fence, , info] = open
    const close = fenceClose(fence)
    const body = []
    const cols = []
    let j = i + 1
    for (; j < lines.length && within(j) && !close.test(lines[j]); j++) {
      // Dedent by the fence's indentation (a fence inside a list item).
      const line = lines[j]
      const cut = line.startsWith(indent) ? indent.length : line.length - line.trimStart().length
      body.push(line.slice(cut))
      cols.push(offsets[j] + cut)
    }
    const unterminated = j === lines.length || !within(j)
    blocks.push({
      line: i + 2,
      text: body.join('\n'),
      offsets: cols,
      skip: /\bno-check\b/.test(info),
      unterminated,
    })
    i = j
  }
  return blocks
}

/** Which package a documentation file belongs to (for auto-imports): its packages/<pkg>, else core. */
function packageOf(file) {
  const rel = relative(root, file).split(sep)
  return rel[0] === 'packages' && packageNames.includes(rel[1]) ? rel[1] : 'core'
}

function markdownSnippets(file) {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/)
  return fencedBlocks(
    lines,
    lines.map(() => 0),
  ).map((b) => ({ ...b, origin: file, pkg: packageOf(file), kind: 'markdown' }))
}

/** ```ts blocks in the @example section of each /** comment, with the ` * ` prefixes removed. */
function tsdocSnippets(file) {
  const source = readFileSync(file, 'utf8')
  const lines = source.split(/\r?\n/)
  const stripped = []
  const offsets = []
  const inExample = []
  const docLines = []
  let inDoc = false
  let tag = ''
  for (const line of lines) {
    let text = line
    let offset = 0
    let docLine = inDoc
    if (!inDoc) {
      const open = line.indexOf('/**')
      if (open >= 0 && !line.includes('*/', open + 3)) {
        inDoc = true
        tag = ''
      }
    } else if (line.includes('*/')) {
      inDoc = false
      docLine = false
    }
    if (docLine) {
      const prefix = /^\s*\*(?: |$)/.exec(line)
      offset = prefix ? prefix[0].length : 0
      text = line.slice(offset)
      const block = /^\s*(@\w+)/.exec(text)
      if (block) tag = block[1]
    }
    stripped.push(docLine ? text : '')
    docLines.push(docLine)
    offsets.push(offset)
    inExample.push(docLine && tag === '@example')
  }
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true)
  // A fence must close inside its comment (a `*/` in the code ends the comment early).
  return fencedBlocks(
    stripped,
    offsets,
    (i) => inExample[i],
    (j) => docLines[j],
  ).map((b) => ({
    ...b,
    origin: file,
    pkg: packageOf(file),
    kind: 'tsdoc',
    member: documentedMember(sf, sf.getPositionOfLineAndCharacter(b.line - 1, 0)),
  }))
}

/**
 * The exported class or interface member whose doc comment contains `pos`: its example's receiver
 * (`x.member(...)` with `x` free) is an instance of that type.
 */
function documentedMember(sf, pos) {
  for (const st of sf.statements) {
    if (!(ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st)) || !st.name) continue
    if (!st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue
    if (pos < st.pos || pos >= st.end) continue
    for (const m of st.members) {
      if (
        pos >= m.pos &&
        pos < m.getStart(sf) &&
        m.name &&
        (ts.isIdentifier(m.name) || ts.isStringLiteral(m.name))
      ) {
        const isStatic = m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword) ?? false
        if (isStatic) return undefined
        const args = st.typeParameters?.length ? `<${st.typeParameters.map(() => 'any').join(', ')}>` : ''
        return { name: m.name.text, type: `${st.name.text}${args}` }
      }
    }
  }
  return undefined
}

function collectSnippets() {
  const markdown = [
    join(root, 'README.md'),
    ...walk(join(root, 'docs'), (n) => n.endsWith('.md')),
    ...packageNames.flatMap((p) => [
      join(root, 'packages', p, 'README.md'),
      ...walk(join(root, 'packages', p, 'src'), (n) => n.endsWith('.md')),
    ]),
  ].filter((f) => {
    try {
      return statSync(f).isFile()
    } catch {
      return false
    }
  })
  const sources = packageNames.flatMap((p) =>
    walk(join(root, 'packages', p, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.d.ts')),
  )
  return [...markdown.flatMap(markdownSnippets), ...sources.flatMap(tsdocSnippets)]
}

// ---------------------------------------------------------------------------------------------------------
// Glossary: the conventional names the documentation uses for the main objects. A free name listed here (for
// the snippet's package, or for all) is typed as that object instead of being an untyped placeholder, so calls
// on it are checked. Every type must be exported by its package (checked on each run).

const GLOSSARY = {
  '*': {
    envelope: ['core', 'Envelope'],
    hierarchy: ['core', 'KeyHierarchy'],
    kms: ['@aws-sdk/client-kms', 'KMSClient'],
    client: ['@aws-sdk/client-kms', 'KMSClient'],
    kmsClient: ['@aws-sdk/client-kms', 'KMSClient'],
    serviceKms: ['@aws-sdk/client-kms', 'KMSClient'],
    customerKms: ['@aws-sdk/client-kms', 'KMSClient'],
  },
  connect: { connect: ['connect', 'ConnectDataProtection'] },
  'customer-profiles': { domains: ['customer-profiles', 'ProfileDomains'] },
  'esdk-interop': { reader: ['esdk-interop', 'EsdkReader'] },
  'local-kms': { engine: ['local-kms', 'LocalKmsEngine'], kms: ['local-kms', 'LocalKms'] },
  personalize: { personalize: ['personalize', 'Personalize'], group: ['personalize', 'DatasetGroup'] },
  vision: { project: ['vision', 'VisionProject'], faces: ['vision', 'FaceCollection'] },
}
/** Names snippets use from Node.js and the AWS SDK without importing them (auto-imported like exports). */
const WELL_KNOWN = {
  'node:fs': ['createReadStream', 'createWriteStream', 'readFileSync', 'writeFileSync'],
  'node:stream/promises': ['pipeline'],
  'node:crypto': ['randomBytes', 'randomUUID'],
  '@aws-sdk/client-kms': ['KMSClient'],
}
/** Free names ending in Arn or KeyId (`keyArn`, `serviceKeyArn`, `rootKeyId`) are strings. */
const STRING_NAME = /^[a-z][A-Za-z0-9]*(Arn|KeyId)$/

function glossaryType(pkg, name) {
  const entry = Object.hasOwn(GLOSSARY[pkg] ?? {}, name)
    ? GLOSSARY[pkg][name]
    : Object.hasOwn(GLOSSARY['*'], name)
      ? GLOSSARY['*'][name]
      : undefined
  if (entry)
    return `import('${entry[0].startsWith('@') ? entry[0] : `@kms-envelope/${entry[0]}`}').${entry[1]}`
  return STRING_NAME.test(name) ? 'string' : undefined
}

// ---------------------------------------------------------------------------------------------------------
// Self-test fixtures: checked in the same program on every run; the run fails if the checker misses one.

const FIXTURE_ORIGIN = join(root, 'scripts', 'check-snippets.mjs')
const CACHE_SOURCE = join(root, 'packages', 'core', 'src', 'cache', 'data-key-cache.ts')
const fixtures = [
  // expect: the TS code that must be reported, or 0 for "no diagnostic" (placeholders only)
  {
    expect: 0,
    text: "const ct = await envelope.encrypt(data, { context: { tenant: 'acme' } })\nkeyring.any(client, 1)",
  },
  {
    expect: 0,
    text: "import { Envelope, KmsKeyring } from '@kms-envelope/core'\nconst e = new Envelope({ keyring: new KmsKeyring({ client, generatorKeyId }) })\nawait e.encrypt(note, { context: where })",
  },
  { expect: 0, text: "cache.purge((key) => key.startsWith('tenant=acme'))" }, // untyped callee: implicit any is fine
  { expect: 7006, text: 'export const twice = (x) => [x, x]' }, // implicit any not caused by a placeholder
  { expect: 0, kind: 'tsdoc', text: 'const info = inspect(ciphertext)\nconsole.log(info.version)' }, // auto-import
  { expect: 0, kind: 'tsdoc', text: 'const s: string = inspect' }, // an export's name as a plain value: a placeholder
  {
    expect: 2339,
    kind: 'tsdoc',
    text: 'const e = new Envelope({ keyring })\nconst { plaintext } = await e.decrypt(ct)\nplaintext.nope',
  },
  {
    expect: 2551,
    text: "import { Envelope } from '@kms-envelope/core'\nconst e = new Envelope({ keyring })\nawait e.encryptt('x')",
  },
  {
    expect: 2554,
    text: "import { Envelope } from '@kms-envelope/core'\nconst e = new Envelope({ keyring })\nawait e.encrypt()",
  },
  { expect: 2305, text: "import { NoSuchExport } from '@kms-envelope/core'\nNoSuchExport(client)" },
  {
    expect: 2353,
    text: "import { Envelope } from '@kms-envelope/core'\nnew Envelope({ keyring, cacheSize: 3 })",
  },
  {
    expect: 80007,
    text: "import { Envelope } from '@kms-envelope/core'\nconst e = new Envelope({ keyring })\nawait e.purge({ scope: 's' })",
  },
  { expect: 1005, text: "import { Envelope } from '@kms-envelope/core'\nconst e = new Envelope({ keyring }" },
  // A later snippet of the same document sees the earlier one's declarations.
  {
    expect: 0,
    group: 'doc',
    text: "import { Envelope } from '@kms-envelope/core'\nconst env = new Envelope({ keyring })",
  },
  { expect: 2551, group: 'doc', text: "await env.decryptJsonn(ct, { expectedContext: { tenant: 'acme' } })" },
  // The receiver of the documented member's example is an instance of its class.
  {
    expect: 2345,
    kind: 'tsdoc',
    origin: CACHE_SOURCE,
    member: { name: 'purge', type: 'DataKeyCache<any>' },
    text: 'cache.purge(42)',
  },
].map((f, index) => ({
  origin: f.origin ?? FIXTURE_ORIGIN,
  group: f.group ?? `fixture ${index}`,
  line: 1,
  text: f.text,
  offsets: f.text.split('\n').map(() => 0),
  skip: false,
  pkg: 'core',
  kind: f.kind ?? 'markdown',
  member: f.member,
  fixture: { index, expect: f.expect },
}))

// ---------------------------------------------------------------------------------------------------------
// Compile

const base = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile)
if (base.error) throw new Error(ts.flattenDiagnosticMessageText(base.error.messageText, '\n'))
const parsed = ts.parseJsonConfigFileContent(base.config, ts.sys, root)
const options = {
  ...parsed.options,
  noEmit: true,
  declaration: false,
  sourceMap: false,
  verbatimModuleSyntax: false,
  isolatedModules: false,
  allowImportingTsExtensions: false,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  baseUrl: root,
  paths: Object.fromEntries(packageNames.map((p) => [`@kms-envelope/${p}`, [`packages/${p}/src/index.ts`]])),
}

const snippets = selfTestOnly ? fixtures : [...fixtures, ...collectSnippets()]
const checked = snippets.filter((s) => !s.skip)

// A virtual path next to the snippet's origin, so that imports resolve from there (node_modules, relative).
checked.forEach((s, i) => {
  const originDir =
    s.kind === 'tsdoc'
      ? dirname(s.origin)
      : join(root, s.pkg === 'core' && !s.origin.includes(`${sep}packages${sep}`) ? '' : `packages/${s.pkg}`)
  s.virtualPath = join(originDir, `__snippet_${i}__.mts`)
  s.autoImports = []
  s.exports = new Set()
  s.typed = []
})

const virtual = new Map()
const sourceCache = new Map()
const host = ts.createCompilerHost(options, true)
const realGetSourceFile = host.getSourceFile.bind(host)
host.fileExists = (
  (fileExists) => (f) =>
    virtual.has(f) || fileExists(f)
)(host.fileExists.bind(host))
host.readFile = (
  (readFile) => (f) =>
    virtual.get(f) ?? readFile(f)
)(host.readFile.bind(host))
host.writeFile = () => {
  throw new Error('check-snippets writes nothing')
}
host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
  const text = virtual.get(fileName)
  if (text !== undefined) return ts.createSourceFile(fileName, text, languageVersion, true)
  let sf = sourceCache.get(fileName)
  if (!sf) {
    sf = realGetSourceFile(fileName, languageVersion, onError, shouldCreate)
    if (sf) sourceCache.set(fileName, sf)
  }
  return sf
}

function render(s) {
  const imports = s.autoImports.map(({ name, from }) => `import { ${name} } from '${from}'`)
  const typed = s.typed.map(({ name, type }) => `declare const ${name}: ${type}`)
  return `${s.text}\n;export { ${[...s.exports].join(', ')} }\n${[...imports, ...typed].join('\n')}\n`
}

/** A TSDoc snippet's specifier for the source file it documents (its virtual file sits next to it). */
const ownModule = (s) => `./${basename(s.origin).replace(/\.ts$/, '.js')}`

function buildProgram(oldProgram) {
  virtual.clear()
  for (const s of checked) virtual.set(s.virtualPath, render(s))
  const rootNames = [
    ...checked.map((s) => s.virtualPath),
    ...packageNames.map((p) => join(root, 'packages', p, 'src', 'index.ts')),
  ]
  return ts.createProgram({ rootNames, options, host, oldProgram })
}

function diagnosticsOf(program, s) {
  const sf = program.getSourceFile(s.virtualPath)
  const syntactic = program.getSyntacticDiagnostics(sf)
  if (syntactic.length > 0) return [...syntactic]
  const suggestions =
    typeof program.getSuggestionDiagnostics === 'function'
      ? program.getSuggestionDiagnostics(sf).filter((d) => SUGGESTION_CODES.has(d.code))
      : []
  return [...program.getSemanticDiagnostics(sf), ...suggestions]
}

/** The name a "Cannot find name" diagnostic is about (its span is the identifier). */
const freeName = (sf, d) => sf.text.slice(d.start, d.start + d.length)

/** The innermost node that starts at `pos` (a diagnostic's span start). */
function nodeAt(sf, pos) {
  let found
  const visit = (node) => {
    if (node.getStart(sf) <= pos && pos < node.end) {
      found = node
      ts.forEachChild(node, visit)
    }
  }
  ts.forEachChild(sf, visit)
  return found
}

/**
 * Whether a free identifier is used as an API (called, constructed, a property's object, an instanceof target,
 * a type), as opposed to a value handed around (an argument, a shorthand property, an operand): only the
 * former is auto-imported, so a placeholder that happens to share an export's name stays a placeholder.
 */
function usedAsApi(id) {
  const p = id.parent
  if (!p) return false
  if ((ts.isCallExpression(p) || ts.isNewExpression(p)) && p.expression === id) return true
  if (ts.isTaggedTemplateExpression(p) && p.tag === id) return true
  if (ts.isPropertyAccessExpression(p) && p.expression === id) return true
  if (ts.isBinaryExpression(p) && p.operatorToken.kind === ts.SyntaxKind.InstanceOfKeyword && p.right === id)
    return true
  if (ts.isTypeReferenceNode(p) || ts.isExpressionWithTypeArguments(p) || ts.isTypeQueryNode(p)) return true
  if (ts.isQualifiedName(p) && p.left === id) return true
  return false
}

/** Names a snippet declares or imports at top level (what a later snippet of the same document may use). */
function topLevelNames(sf) {
  const names = new Set()
  const bind = (name) => {
    if (ts.isIdentifier(name)) names.add(name.text)
    else for (const e of name.elements) if (!ts.isOmittedExpression(e)) bind(e.name)
  }
  for (const st of sf.statements) {
    if (st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue
    if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) bind(d.name)
    else if (
      (ts.isFunctionDeclaration(st) ||
        ts.isClassDeclaration(st) ||
        ts.isInterfaceDeclaration(st) ||
        ts.isTypeAliasDeclaration(st) ||
        ts.isEnumDeclaration(st)) &&
      st.name
    )
      names.add(st.name.text)
    else if (ts.isImportDeclaration(st) && st.importClause) {
      const { name, namedBindings } = st.importClause
      if (name) names.add(name.text)
      if (namedBindings && ts.isNamespaceImport(namedBindings)) names.add(namedBindings.name.text)
      else if (namedBindings) for (const e of namedBindings.elements) names.add(e.name.text)
    }
  }
  return names
}

/** Whether the snippet accesses `member` on the free name `name` (`name.member`). */
function receives(sf, name, member) {
  let found = false
  const visit = (node) => {
    if (found) return
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === name &&
      node.name.text === member
    )
      found = true
    else ts.forEachChild(node, visit)
  }
  visit(sf)
  return found
}

/** Module specifiers the snippet imports from itself. */
function importsOf(sf) {
  return new Set(
    sf.statements
      .filter((st) => ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier))
      .map((st) => st.moduleSpecifier.text),
  )
}

// Pass 1: find the free names; auto-import the ones a package exports.
let program = buildProgram()
const checker = program.getTypeChecker()
const exportsCache = new Map()
function exportsOf(file) {
  let names = exportsCache.get(file)
  if (!names) {
    const sf = program.getSourceFile(file)
    const symbol = sf && checker.getSymbolAtLocation(sf)
    names = new Set(symbol ? checker.getExportsOfModule(symbol).map((e) => e.name) : [])
    exportsCache.set(file, names)
  }
  return names
}
const indexOf = (pkg) => join(root, 'packages', pkg, 'src', 'index.ts')
const toolErrors = []
for (const [pkg, type] of Object.values(GLOSSARY).flatMap((names) => Object.values(names)))
  if (!pkg.startsWith('@') && !exportsOf(indexOf(pkg)).has(type))
    toolErrors.push(
      `check-snippets GLOSSARY: @kms-envelope/${pkg} no longer exports ${type}: update the table`,
    )
let anyAutoImport = false
const declaredEarlier = new Map() // markdown file -> name -> the latest snippet declaring it
for (const s of checked) {
  const sf = program.getSourceFile(s.virtualPath)
  const group = s.group ?? s.origin
  const earlier = s.kind === 'markdown' ? (declaredEarlier.get(group) ?? new Map()) : new Map()
  const imported = importsOf(sf)
  // Where the snippet's free names may come from, in order; a module the snippet already imports from is not
  // a candidate (its import list is explicit: anything else is a placeholder).
  const candidates = [{ file: indexOf(s.pkg), from: `@kms-envelope/${s.pkg}` }]
  if (s.kind === 'tsdoc') candidates.push({ file: s.origin, from: ownModule(s) })
  candidates.push({ file: indexOf('core'), from: '@kms-envelope/core' })
  for (const [from, names] of Object.entries(WELL_KNOWN)) candidates.push({ names: new Set(names), from })
  const open = candidates.filter(
    (c) => !imported.has(c.from) && !(c.from.startsWith('.') && [...imported].some((m) => m.startsWith('.'))),
  )
  const free = new Map() // name -> used as an API at least once
  for (const d of program.getSemanticDiagnostics(sf)) {
    if (!PLACEHOLDER_CODES.has(d.code)) continue
    const name = freeName(sf, d)
    const id = nodeAt(sf, d.start)
    const api =
      d.code !== 18004 && d.code !== 2503 && id !== undefined && ts.isIdentifier(id) && usedAsApi(id)
    free.set(name, (free.get(name) ?? false) || api)
  }
  s.placeholders = []
  for (const [name, api] of free) {
    const previous = earlier.get(name)
    const source = api ? open.find((c) => (c.names ?? exportsOf(c.file)).has(name)) : undefined
    if (previous) {
      previous.exports.add(name)
      s.autoImports.push({ name, from: `./${basename(previous.virtualPath).replace(/\.mts$/, '.mjs')}` })
    } else if (source) s.autoImports.push({ name, from: source.from })
    else if (s.member && receives(sf, name, s.member.name))
      s.typed.push({ name, type: `import('${ownModule(s)}').${s.member.type}` })
    else if (glossaryType(s.pkg, name)) s.typed.push({ name, type: glossaryType(s.pkg, name) })
    else s.placeholders.push(name)
  }
  if (s.autoImports.length > 0 || s.typed.length > 0) anyAutoImport = true
  if (s.kind === 'markdown') {
    for (const name of topLevelNames(sf)) earlier.set(name, s)
    declaredEarlier.set(group, earlier)
  }
}

// Pass 2: check with the auto-imports (the parsed library and package sources are reused).
if (anyAutoImport) program = buildProgram(program)

const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]
if (global.length > 0) {
  console.error(ts.formatDiagnostics(global, host))
  process.exit(2)
}

/**
 * Whether an implicit-any diagnostic (a callback parameter without a type) comes from a placeholder: the
 * callback is an argument (possibly inside an object or array literal) of a call whose callee has no type
 * (a placeholder, or a member of one), so the missing contextual type is not the API's fault.
 */
function implicitAnyFromPlaceholder(sf, d, checker) {
  let node = nodeAt(sf, d.start)
  while (node && !ts.isFunctionLike(node)) node = node.parent
  if (!node) return false
  let child = node
  let p = node.parent
  while (
    p &&
    (ts.isParenthesizedExpression(p) ||
      ts.isPropertyAssignment(p) ||
      ts.isObjectLiteralExpression(p) ||
      ts.isArrayLiteralExpression(p))
  ) {
    child = p
    p = p.parent
  }
  if (!p || !(ts.isCallExpression(p) || ts.isNewExpression(p)) || !p.arguments?.includes(child)) return false
  return (checker.getTypeAtLocation(p.expression).flags & ts.TypeFlags.Any) !== 0
}

function locate(s, d) {
  const sf = program.getSourceFile(s.virtualPath)
  const { line, character } = sf.getLineAndCharacterOfPosition(d.start ?? 0)
  const lines = s.text.split('\n').length
  const inSnippet = line < lines
  return {
    line: s.line + (inSnippet ? line : 0),
    col: inSnippet ? character + 1 + (s.offsets[line] ?? 0) : 1,
  }
}

const failures = snippets
  .filter((s) => s.unterminated)
  .map(
    (s) =>
      `${relative(root, s.origin)}:${s.line - 1}:1 unterminated \`\`\`ts fence (in a TSDoc comment: a */ in the code ends the comment)`,
  )
const fixtureProblems = []
const finalChecker = program.getTypeChecker()
for (const s of checked) {
  const sf = program.getSourceFile(s.virtualPath)
  const reported = diagnosticsOf(program, s).filter(
    (d) =>
      !PLACEHOLDER_CODES.has(d.code) &&
      !(IMPLICIT_ANY_CODES.has(d.code) && implicitAnyFromPlaceholder(sf, d, finalChecker)),
  )
  if (s.fixture) {
    const { expect, index } = s.fixture
    const codes = reported.map((d) => d.code)
    const ok = expect === 0 ? codes.length === 0 : codes.includes(expect)
    if (!ok) {
      const got = reported.map((d) => `TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`)
      fixtureProblems.push(
        `self-test fixture #${index} expected ${expect === 0 ? 'no diagnostic' : `TS${expect}`}, got ${got.length ? got.join('; ') : 'none'}:\n    ${s.text.replaceAll('\n', '\n    ')}`,
      )
    }
    continue
  }
  for (const d of reported) {
    const { line, col } = locate(s, d)
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n      ')
    failures.push(`${relative(root, s.origin)}:${line}:${col} TS${d.code} ${message}`)
  }
}

if (args.has('--list')) {
  for (const s of snippets) {
    const extra = s.skip
      ? ' (no-check)'
      : ` placeholders: ${s.placeholders.join(', ') || '-'}; auto-imports: ${s.autoImports.map((a) => `${a.name} from ${a.from}`).join(', ') || '-'}${s.typed.length ? `; typed: ${s.typed.map((t) => `${t.name}: ${t.type}`).join(', ')}` : ''}`
    console.log(`${s.fixture ? '[fixture] ' : ''}${relative(root, s.origin)}:${s.line}${extra}`)
  }
}

for (const f of failures) console.log(f)
for (const e of toolErrors) console.log(e)
for (const p of fixtureProblems) console.log(`check-snippets SELF-TEST FAILED: ${p}`)
const real = checked.filter((s) => !s.fixture).length
const skipped = snippets.length - checked.length
const seconds = ((performance.now() - started) / 1000).toFixed(1)
console.log(
  selfTestOnly
    ? `check-snippets --self-test: ${fixtures.length} fixtures, ${fixtureProblems.length} not behaving as expected (${seconds} s)`
    : `check-snippets: ${real} snippets checked${skipped ? ` (${skipped} no-check)` : ''}, ${failures.length} failures; self-test ${fixtureProblems.length ? 'FAILED' : 'ok'} (${seconds} s)`,
)
process.exit(failures.length > 0 || fixtureProblems.length > 0 || toolErrors.length > 0 ? 1 : 0)
