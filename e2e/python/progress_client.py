"""The MCP Python SDK (`mcp` from PyPI) as a client of the built Worker: connects over
Streamable HTTP with a bearer token, sets the log level, calls `calculate_all` with a
progress callback, reads the shipped profile resource, and prints what it received as JSON.

Usage: progress_client.py <mcp url> <access token>
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str, token: str) -> None:
    progress = []
    logs = []

    async def on_log(params):
        logs.append({"level": params.level, "data": params.data})

    async def on_progress(value, total, message):
        progress.append([value, total])

    headers = {"Authorization": f"Bearer {token}"}
    async with streamablehttp_client(url, headers=headers) as (read, write, _):
        async with ClientSession(read, write, logging_callback=on_log) as session:
            init = await session.initialize()
            await session.set_logging_level("info")
            result = await session.call_tool(
                "calculate_all",
                {"expressions": ["2+2", "7*6"]},
                progress_callback=on_progress,
            )
            profile = await session.read_resource("account://profile")
            print(json.dumps({
                "protocolVersion": init.protocolVersion,
                "isError": result.isError,
                "structured": result.structuredContent,
                "progress": progress,
                "logs": logs,
                "profile": json.loads(profile.contents[0].text),
            }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
