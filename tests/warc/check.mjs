// SPDX-License-Identifier: MIT
//
// node check.mjs [--wget] FILE...: read WARC files back with warcio (a
// reader no one here wrote) and check every record: a unique
// <urn:uuid:> id, a WARC-Date, a target URI without angle brackets (--wget:
// wget's are allowed them), the block digest and the payload digest
// (sha1, base32; the payload with any chunked framing removed), links that
// point at records of the file. Then a second pass, warcio parsing the HTTP
// heads itself, must see the same statuses. Prints a line a record:
//   TYPE <tab> URI <tab> STATUS <tab> sha1 (hex) of the decoded content
// Exits 1 with what is wrong on stderr.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import zlib from 'node:zlib';
import { WARCParser } from 'warcio';

const args = process.argv.slice(2);
const wget = args[0] === '--wget';
const files = wget ? args.slice(1) : args;
let bad = 0;

function fail(where, what) {
  console.error(`${where}: ${what}`);
  bad = 1;
}

function base32(buf) {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '', acc = 0, bits = 0;
  for (const b of buf) {
    acc = (acc << 8) | b;
    for (bits += 8; bits >= 5; bits -= 5) out += abc[(acc >>> (bits - 5)) & 31];
  }
  if (bits) out += abc[(acc << (5 - bits)) & 31];
  return out;
}

const sha1 = (buf) => 'sha1:' + base32(createHash('sha1').update(buf).digest());

// RFC 9112 7.1: the chunks' data, without sizes, extensions or trailers;
// whole: false when it breaks off (a truncated record)
function dechunk(buf) {
  const parts = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    const size = eol < 0 ? NaN
      : parseInt(buf.subarray(at, eol).toString().split(';')[0], 16);
    if (Number.isNaN(size)) return { body: Buffer.concat(parts), whole: false };
    at = eol + 2;
    if (size === 0) return { body: Buffer.concat(parts), whole: true };
    parts.push(buf.subarray(at, at + size));
    if (at + size > buf.length) return { body: Buffer.concat(parts), whole: false };
    at += size + 2;
  }
}

function decode(body, encoding) {
  switch ((encoding || '').trim().toLowerCase()) {
    case '': case 'identity': return body;
    case 'gzip': case 'x-gzip': return zlib.gunzipSync(body);
    case 'deflate': return zlib.inflateSync(body);
    case 'br': return zlib.brotliDecompressSync(body);
    default: throw new Error(`content-encoding ${encoding}`);
  }
}

function httpHead(block) {
  const end = block.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = block.subarray(0, end).toString('latin1').split('\r\n');
  const fields = new Map();
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) fields.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
  }
  return { first: lines[0], fields, body: block.subarray(end + 4) };
}

for (const file of files) {
  const ids = new Set(), links = [], statuses = [];
  let n = 0, info = null;
  const parser = new WARCParser(createReadStream(file), { parseHttp: false });
  for await (const record of parser) {
    n++;
    const h = record.warcHeaders.headers;
    const type = record.warcType;
    let uri = h.get('WARC-Target-URI') || '';
    const where = `${file}: record ${n} (${type} ${uri})`;
    const block = Buffer.from(await record.readFully(false));
    if (record.warcHeaders.protocol !== 'WARC/1.1' && !wget)
      fail(where, `version ${record.warcHeaders.protocol}`);
    const id = h.get('WARC-Record-ID') || '';
    if (!/^<urn:uuid:[0-9a-f-]{36}>$/.test(id)) fail(where, `record id ${id}`);
    if (ids.has(id)) fail(where, `record id ${id} twice`);
    ids.add(id);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(h.get('WARC-Date') || ''))
      fail(where, `date ${h.get('WARC-Date')}`);
    if (Number(h.get('Content-Length')) !== block.length)
      fail(where, `Content-Length ${h.get('Content-Length')}, block ${block.length}`);
    if (type === 'warcinfo') {
      info = id;
    } else {
      if (uri.startsWith('<')) {
        if (!wget) fail(where, 'target URI in angle brackets');
        uri = uri.slice(1, -1);
      }
      if (!uri) fail(where, 'no target URI');
      const wid = h.get('WARC-Warcinfo-ID');
      if (!wget && wid !== info) fail(where, `warcinfo id ${wid}, not ${info}`);
    }
    for (const to of (h.get('WARC-Concurrent-To') || '').split(',').filter(Boolean))
      links.push([where, to.trim()]);
    if (h.get('WARC-Block-Digest') && h.get('WARC-Block-Digest') !== sha1(block))
      fail(where, `block digest ${h.get('WARC-Block-Digest')}, is ${sha1(block)}`);
    let status = '-', content = '-';
    if (type === 'request' || type === 'response' || type === 'revisit') {
      const head = httpHead(block);
      if (!head) {
        fail(where, 'no HTTP head');
      } else {
        let payload = head.body;
        if (/chunked/i.test(head.fields.get('transfer-encoding') || '')) {
          const d = dechunk(payload);
          payload = d.body;
          if (!d.whole && !h.get('WARC-Truncated'))
            fail(where, 'chunks break off, and no WARC-Truncated says so');
        }
        const pd = h.get('WARC-Payload-Digest');
        if (type === 'response' && !pd) fail(where, 'no payload digest');
        if (pd && pd !== sha1(payload))
          fail(where, `payload digest ${pd}, is ${sha1(payload)}`);
        if (type !== 'request') {
          status = head.first.split(' ')[1];
          statuses.push(status);
          try {
            const body = h.get('WARC-Truncated') ? payload
              : decode(payload, head.fields.get('content-encoding'));
            content = createHash('sha1').update(body).digest('hex');
          } catch (e) {
            fail(where, `decoding: ${e.message}`);
          }
        }
      }
    }
    console.log([type, uri || '-', status, content].join('\t'));
  }
  for (const [where, to] of links)
    if (!ids.has(to)) fail(where, `WARC-Concurrent-To ${to}: no such record`);
  // warcio's own reading of the HTTP heads
  const seen = [];
  for await (const record of new WARCParser(createReadStream(file))) {
    if (record.httpHeaders && record.warcType !== 'request')
      seen.push(String(record.httpHeaders.statusCode));
    await record.readFully(false);
  }
  if (seen.join() !== statuses.join())
    fail(file, `warcio read statuses ${seen.join()}, the blocks say ${statuses.join()}`);
  if (!n) fail(file, 'no records');
}
process.exit(bad);
