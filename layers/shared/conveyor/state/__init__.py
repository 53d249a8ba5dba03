"""The stack's one DynamoDB state table: every item family, and the one module that owns each.

The table is keyed by ``pk`` (partition) and ``sk`` (sort); ``expiration`` (epoch seconds) is its
TTL attribute. No code outside this package builds a key of it.

=======================  ======================================  ===========================
``pk``                   ``sk``                                  owner
=======================  ======================================  ===========================
``dataset``              ``counter``                             :mod:`conveyor.state.ledger`
``dataset``              ``part#<id>``                           :mod:`conveyor.state.ledger`
``object``               ``<bucket>/<key>#<version>``            :mod:`conveyor.state.ledger`
``run``                  ``run-000001``                          :mod:`conveyor.state.ledger`
``drift``                ``<baseline id>#<chunk>``               :mod:`conveyor.state.ledger`
``control``              ``freeze``                              :mod:`conveyor.state.control`
``finding``              ``<CloudTrail eventID>``                :mod:`conveyor.state.findings`
``health#<stage>``       ``<checked at>#<request id>`` (TTL)     :mod:`conveyor.state.health`
``release``              ``v<package version>``                  :mod:`conveyor.state.releases`
``canary``               ``v000001`` / ``endpoint`` (the lock)   :mod:`conveyor.state.canary`
``champion``             ``current``                             :mod:`conveyor.state.champion`
=======================  ======================================  ===========================

The edge release keeps no item: its progress is its execution's history.
"""

PARTITION_KEY = "pk"
SORT_KEY = "sk"
EXPIRATION = "expiration"
