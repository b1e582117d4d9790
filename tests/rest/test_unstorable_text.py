"""Text no store can keep (U+0000, lone UTF-16 surrogates) is a 400 with an OperationOutcome on every backend,
never a 500, and nothing is written; ordinary non-BMP text (emoji, CJK) is stored as sent."""
from __future__ import annotations

from tests.rest.conftest import Client


def test_nul_and_lone_surrogates_are_refused_and_nothing_is_written(client: Client) -> None:
    for body in (b'{"resourceType":"Patient","name":[{"family":"a\\u0000b"}]}',
                 b'{"resourceType":"Patient","name":[{"family":"a\\ud800"}]}',
                 b'{"resourceType":"Patient","name":[{"\\u0000family":"a"}]}'):
        response = client("POST", "/Patient", body)
        assert response.status == 400, body
        assert response.body["resourceType"] == "OperationOutcome"
        assert "U+0000" in response.body["issue"][0]["diagnostics"] or "surrogate" in response.body["issue"][0][
            "diagnostics"]
    assert client("GET", "/Patient", query="_summary=count").body["total"] == 0


def test_a_transaction_with_a_nul_is_refused_whole(client: Client) -> None:
    bundle = (b'{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"},'
              b'"request":{"method":"POST","url":"Patient"}},{"resource":{"resourceType":"Patient","name":'
              b'[{"family":"x\\u0000"}]},"request":{"method":"POST","url":"Patient"}}]}')
    assert client("POST", "", bundle).status == 400
    assert client("GET", "/Patient", query="_summary=count").body["total"] == 0


def test_a_nul_in_a_search_is_a_400(client: Client) -> None:
    response = client("GET", "/Patient", query="name=%00")
    assert response.status == 400 and "U+0000" in response.body["issue"][0]["diagnostics"]


def test_emoji_and_other_non_bmp_text_is_stored_as_sent(client: Client) -> None:
    created = client("POST", "/Patient", {"resourceType": "Patient", "name": [{"family": "\U0001F600 \u674e"}]})
    assert created.status == 201
    assert client("GET", f"/Patient/{created.body['id']}").body["name"][0]["family"] == "\U0001F600 \u674e"


def test_a_property_named_twice_is_refused_as_the_validator_refuses_it(client: Client) -> None:
    response = client("POST", "/Patient", b'{"resourceType":"Patient","gender":"male","gender":"female"}')
    assert response.status == 400 and "'gender' appears twice" in response.body["issue"][0]["diagnostics"]
    assert client("GET", "/Patient", query="_summary=count").body["total"] == 0
