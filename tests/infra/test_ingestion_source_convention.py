"""One EventBridge source convention: the AWS bus → stream rule takes exactly what the producers send."""

from __future__ import annotations

from tests.infra.conftest import one


def test_the_lake_rule_matches_the_producers_source_prefix(platform):
    from common.config import EVENT_SOURCE_PREFIX

    rule = one(platform, "AWS::Events::Rule", Name="marketplace-events-to-lake")["Properties"]
    assert rule["EventPattern"]["source"] == [{"prefix": EVENT_SOURCE_PREFIX}]
