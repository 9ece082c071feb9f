"""CDRs: charging periods from what stations report, live session cost, and immutable OCPI CDRs.

* :mod:`borne.cdrs.periods` (pure): meter values and charging states → charging periods.
* :mod:`borne.cdrs.builder` (pure): a transaction's periods + tariff → OCPI 2.2.1 / 2.3.0 CDR
  JSON and the human-readable explanation of its price.
* :mod:`borne.cdrs.service`: issue, credit, re-issue and read CDRs; the running cost.
* :mod:`borne.cdrs.subscribers`: CDR at TransactionEnded, running cost at MeterValuesRecorded.

See docs/cdrs.md.
"""
