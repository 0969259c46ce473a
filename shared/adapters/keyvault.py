"""The one adapter for Azure Key Vault: a `SecretSource` over `azure.keyvault.secrets.SecretClient`.

In Azure the app signs in with its managed identity through `DefaultAzureCredential` (a user-assigned
identity is picked by `AZURE_CLIENT_ID`; on a laptop, `az login` works too). The identity needs the
"Key Vault Secrets User" role on the vault (or an access policy with secret `get`).

A request must not wait out an outage: the SDK retries once, briefly, on a connection error or a 5xx,
and never sleeps on a `Retry-After` (429 or 503 with that header). `SecretStore` then serves the
cached value and backs off, using Key Vault's `Retry-After` as the least wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.keyvault.secrets import SecretClient

from shared.platform.secrets import SecretRef, SecretValue, SourceUnavailable

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

RETRY_TOTAL = 1
RETRY_BACKOFF_SECONDS = 0.2
CONNECTION_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 10


class FailFastRetryPolicy(RetryPolicy):  # type: ignore[type-arg]
    """azure-core's retry, except that an answer asking us to wait (`Retry-After`, 429) is not retried
    within the request: sleeping on it would hold the caller for as long as Key Vault says."""

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        answer = response.http_response
        if answer.status_code == 429 or answer.headers.get("Retry-After"):
            return False
        return bool(super().is_retry(settings, response))


class KeyVaultSource:
    def __init__(self, client: SecretClient) -> None:
        self._client = client

    @classmethod
    def connect(
        cls,
        vault_url: str,
        credential: TokenCredential,
        *,
        retry_total: int = RETRY_TOTAL,
        retry_backoff_factor: float = RETRY_BACKOFF_SECONDS,
        connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        **client_options: Any,
    ) -> KeyVaultSource:
        """`client_options` go to `SecretClient` (tests pass `verify_challenge_resource=False` and
        `connection_verify=<certificate>`)."""
        retry = FailFastRetryPolicy(
            retry_total=retry_total,
            retry_connect=retry_total,
            retry_read=retry_total,
            retry_status=retry_total,
            retry_backoff_factor=retry_backoff_factor,
            retry_backoff_max=2,
        )
        client = SecretClient(
            vault_url,
            credential,
            retry_policy=retry,
            connection_timeout=connection_timeout,
            read_timeout=read_timeout,
            **client_options,
        )
        return cls(client)

    @classmethod
    def with_default_credential(cls, vault_url: str, *, client_id: str | None = None) -> KeyVaultSource:
        from azure.identity import DefaultAzureCredential

        credential = (
            DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()
        )
        return cls.connect(vault_url, credential)

    def where(self, ref: SecretRef) -> str:
        return f"Key Vault secret {ref.key_vault_name}"

    def fetch(self, ref: SecretRef) -> SecretValue | None:
        # Exceptions are re-raised `from None`: what reaches logs is our reason, not the SDK's response.
        try:
            secret = self._client.get_secret(ref.key_vault_name)
        except ResourceNotFoundError:
            return None
        except ClientAuthenticationError:
            raise SourceUnavailable("Key Vault did not accept the app's identity, or no token could be had") from None
        except HttpResponseError as error:
            raise _unavailable(error) from None
        except (ServiceRequestError, ServiceResponseError):
            raise SourceUnavailable("Key Vault is unreachable") from None
        except AzureError as error:
            raise SourceUnavailable(f"Key Vault call failed ({type(error).__name__})") from None
        if not secret.value:
            return None
        return SecretValue(secret.value)

    def close(self) -> None:
        self._client.close()


def _unavailable(error: HttpResponseError) -> SourceUnavailable:
    status = error.status_code
    retry_after: float | None = None
    headers = getattr(error.response, "headers", None) or {}
    try:
        retry_after = float(headers.get("Retry-After", ""))
    except ValueError:
        retry_after = None
    if status == 429:
        return SourceUnavailable("Key Vault is throttling this app (429)", retry_after)
    if status == 403:
        return SourceUnavailable("Key Vault denied access (403): check the identity's role on the vault", retry_after)
    return SourceUnavailable(f"Key Vault answered {status}", retry_after)
