# SPDX-License-Identifier: MIT
"""The aiohttp peer for bench/run: fetch every URL of a file with one
ClientSession, TCPConnector(limit=N, limit_per_host=P), asyncio.gather;
bodies are read and dropped.
Usage: aiohttp_fetch.py URLS_FILE CONCURRENCY [CA_FILE|-] [PER_HOST]"""
import asyncio
import ssl
import sys

import aiohttp


async def fetch(session, url):
    async with session.get(url) as resp:
        await resp.read()
        return resp.status


async def main(path, limit, cafile, per_host):
    with open(path) as f:
        urls = [line.strip() for line in f if line.strip()]
    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    conn = aiohttp.TCPConnector(limit=limit, limit_per_host=per_host,
                                ssl=ctx if ctx else None)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:
        results = await asyncio.gather(*(fetch(s, u) for u in urls),
                                       return_exceptions=True)
    bad = sum(1 for r in results if r != 200)
    if bad:
        print(f"aiohttp: {bad} of {len(urls)} failed", file=sys.stderr)
        sys.exit(1)


asyncio.run(main(sys.argv[1], int(sys.argv[2]),
                 sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-"
                 else None,
                 int(sys.argv[4]) if len(sys.argv) > 4 else 0))
