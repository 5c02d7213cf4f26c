"""clients/kafka/workarounds/producer_state.py: a producer kafka-python turned fatal is told from a usable one."""

from __future__ import annotations

import inspect

from kafka import KafkaProducer
from kafka.producer.transaction_manager import TransactionManager, TransactionState

from karafkad.clients.kafka.workarounds.producer_state import is_fatal


class TestIsFatal:
    def test_kafka_pythons_fatal_state_is_read(self) -> None:
        """kafka-python's producer keeps its TransactionManager where this workaround reads it, and the manager
        says fatal once it is."""
        assert "self._transaction_manager = TransactionManager(" in inspect.getsource(KafkaProducer.__init__)

        class Producer:
            _transaction_manager = TransactionManager(transactional_id=None, transaction_timeout_ms=1000,
                                                      retry_backoff_ms=100, api_version=(4, 0), metadata=None)

        assert not is_fatal(Producer())
        Producer._transaction_manager._current_state = TransactionState.FATAL_ERROR
        assert is_fatal(Producer())

    def test_a_client_without_the_state_is_not_fatal(self) -> None:
        """No transaction manager (idempotence off, a fake, a renamed attribute): never taken for fatal."""
        assert not is_fatal(object())

        class WithoutIdempotence:
            _transaction_manager = None

        assert not is_fatal(WithoutIdempotence())
