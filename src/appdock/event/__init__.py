"""Domain events: typed keys, the outbox table writer (:func:`service.publish`) and the in-process
subscriber registry (:func:`service.subscribe`)."""
