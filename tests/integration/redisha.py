"""The Redis primary, replica and three sentinels of scripts/redis-ha, as the failover tests drive them.

Real redis-server and redis-sentinel processes on loopback. Every fault goes
through the script (kill -9, SIGSTOP/SIGCONT, a node started again as a
replica of the current primary), so a test does what an operator's tooling
would. Which node is the primary changes with each failover; `heal()` puts
both nodes back, one primary and one replica the sentinels know, whatever a
test left behind.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from harness import REDIS_PORT, script, wait_for
from redis.sentinel import Sentinel

MASTER = "karafkad"
"""The name the sentinels monitor the primary under (scripts/redis-ha)."""


class RedisHA:
    def __init__(self) -> None:
        base = int(os.environ.get("KARAFKAD_REDIS_HA_PORT", REDIS_PORT + 100))
        self.node_ports = (base, base + 1)
        self.sentinel_ports = (base + 2, base + 3, base + 4)

    @property
    def sentinels(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.sentinel_ports]

    def redis_section(self, **extra: Any) -> dict[str, Any]:
        """The routes file's `redis` section for this Redis (through the sentinels)."""
        return {"sentinel": {"sentinels": self.sentinels, "master": MASTER}, **extra}

    def client(self) -> redis.Redis[bytes]:
        """A client of whichever node is the primary now (it asks the sentinels at each new connection)."""
        manager = Sentinel([("127.0.0.1", p) for p in self.sentinel_ports], socket_timeout=2)
        return manager.master_for(MASTER, socket_timeout=5, redis_class=redis.Redis)  # type: ignore[no-any-return]

    def node(self, port: int) -> redis.Redis[bytes]:
        return redis.Redis(port=port, socket_timeout=2)

    def primary_port(self) -> int:
        return int(script("redis-ha", "primary").stdout.strip())

    def start(self) -> None:
        script("redis-ha", "start", timeout=120)

    def stop(self) -> None:
        script("redis-ha", "stop", check=False)

    def running(self) -> bool:
        return script("redis-ha", "status", check=False).returncode == 0

    def kill_primary(self) -> int:
        """SIGKILL the primary; its node number (1 or 2), to start it again later."""
        return int(script("redis-ha", "kill-primary").stdout.strip())

    def wait_failover(self, old_port: int, seconds: int = 30) -> int:
        """Until the sentinels name another primary, which says it is one; its port."""
        return int(script("redis-ha", "wait-failover", str(old_port), str(seconds), timeout=seconds + 30)
                   .stdout.strip())

    def start_node(self, node: int) -> None:
        """Start a stopped node again, as a replica of the current primary (waits until it has synced)."""
        script("redis-ha", "start-node", str(node), timeout=60)

    def freeze(self, which: str) -> None:
        """SIGSTOP a node (`replica`, `primary`, 1 or 2): it answers nothing and acknowledges nothing."""
        script("redis-ha", "freeze", which)

    def cut_off_replica(self) -> None:
        """Drop the primary's replication connection (CLIENT KILL TYPE replica), as a network partition
        would. Freeze the replica first, or it reconnects at once: frozen, whatever the primary writes
        meanwhile reaches no replica at all (a frozen replica that stayed connected would still find the
        writes in its socket buffer when it wakes)."""
        self.node(self.primary_port()).client_kill_filter(_type="replica")

    def thaw(self, which: str) -> None:
        script("redis-ha", "thaw", which)

    def heal(self) -> None:
        """Both nodes running and thawed, the replica in sync, and every sentinel seeing it as a good replica
        (so the next failover has somewhere to go)."""
        if not self.running():
            self.start()
        for node in ("1", "2"):
            script("redis-ha", "thaw", node, check=False)  # fails harmlessly on a node that is not running
        for node in ("1", "2"):
            script("redis-ha", "start-node", node, check=False, timeout=60)
        wait_for(self._whole, 60, "the replica is in sync and every sentinel counts it", interval=0.5)

    def _whole(self) -> bool:
        try:
            primary = self.primary_port()
            info = self.node(primary).info("replication")
            if info.get("role") != "master" or info.get("connected_slaves", 0) < 1:
                return False
            for port in self.sentinel_ports:
                replicas = redis.Redis(port=port, socket_timeout=2).sentinel_slaves(MASTER)
                if not any(r["port"] != primary and not r["is_sdown"] and not r["is_odown"]
                           and r.get("master-link-status") == "ok" for r in replicas):
                    return False
            return True
        except (redis.RedisError, ValueError, OSError):
            return False
