"""The documents that declare what entries may name: the vocabulary and the registries.

`vocabulary.yaml` lists what AIB can build (architectures, distros, targets, with aliases); each
file under `registries/` allows one registry host and says how to reach it. Neither holds a
secret: a registry's credentials are named (a path, environment variables, a Secret), never given.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from image_catalog.manifest.types import (
    EnvName,
    Host,
    KubeName,
    Model,
    Name,
    SafePath,
    Text,
    Token,
    Word,
)
from image_catalog.manifest.vocabulary import Vocabulary

# --- vocabulary ----------------------------------------------------------------------------------


class ArchitectureDef(Model):
    name: Word
    aliases: list[Word] = []  # noqa: RUF012 - a pydantic field: each model gets its own copy
    description: Text = ""


class DistroDef(Model):
    name: Word
    aliases: list[Word] = []  # noqa: RUF012 - a pydantic field: each model gets its own copy
    description: Text = ""


class TargetDef(Model):
    name: Word
    architectures: list[Word] = Field(
        default=[], description="Architectures AIB builds this target for; empty means any."
    )
    description: Text = ""


class VocabularySpec(Model):
    architectures: list[ArchitectureDef] = Field(min_length=1)
    distros: list[DistroDef] = Field(min_length=1)
    targets: list[TargetDef] = Field(min_length=1)


class VocabularyMetadata(Model):
    name: Name


class VocabularyFile(Model):
    """`catalog/vocabulary.yaml`: what AIB can build, extended by pull request."""

    api_version: Literal["catalog.automotive.sdv.cloud.redhat.com/v1alpha1"]
    kind: Literal["Vocabulary"]
    metadata: VocabularyMetadata
    spec: VocabularySpec

    def lookups(self) -> Vocabulary:
        """The look-ups validation uses: canonical names by name or alias."""
        spec = self.spec
        return Vocabulary.of(
            architectures=((a.name, a.aliases) for a in spec.architectures),
            distros=((d.name, d.aliases) for d in spec.distros),
            targets=((t.name, t.architectures) for t in spec.targets),
        )


# --- registries ----------------------------------------------------------------------------------

DEFAULT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path


class NoAuth(Model):
    method: Literal["none"]


class ServiceAccountTokenAuth(Model):
    """A Kubernetes service-account token used as the password (OpenShift's internal registry)."""

    method: Literal["serviceAccountToken"]
    token_path: SafePath = DEFAULT_TOKEN_PATH
    username: Token = "serviceaccount"


class AuthFileAuth(Model):
    """A containers `auth.json` holding the credentials."""

    method: Literal["authFile"]
    path: SafePath


class EnvironmentAuth(Model):
    """User name and password read from environment variables at each use."""

    method: Literal["environment"]
    username_variable: EnvName
    password_variable: EnvName


Auth = Annotated[
    NoAuth | ServiceAccountTokenAuth | AuthFileAuth | EnvironmentAuth, Field(discriminator="method")
]


class SecretRef(Model):
    """A Kubernetes Secret in the cluster that holds this registry's pull credentials.

    Only its name travels (into the CatalogImage resources `export crs` writes, as
    `spec.authSecretRef`); the credentials themselves stay in the cluster.
    """

    name: KubeName = Field(description="The Secret's name (a DNS-1123 subdomain).")
    namespace: Name | None = Field(
        default=None, description="Its namespace; by default the CatalogImage's own."
    )


class RegistrySpec(Model):
    kind: Literal["openshift", "quay", "generic"]
    host: Host = Field(description="The host (and port) references name and skopeo talks to.")
    public_host: Host | None = Field(
        default=None, description="Where consumers pull from when it differs from host."
    )
    description: Text = ""
    tls_verify: bool = True
    ca_file: SafePath | None = None
    auth: Auth = NoAuth(method="none")
    auth_secret_ref: SecretRef | None = Field(
        default=None,
        description="The in-cluster Secret with pull credentials, for exported CatalogImages.",
    )
    max_concurrency: int = Field(default=4, ge=1, le=64)


class RegistryMetadata(Model):
    name: Name


class Registry(Model):
    """`catalog/registries/<name>.yaml`: a registry the catalog may reference (an allow-list)."""

    api_version: Literal["catalog.automotive.sdv.cloud.redhat.com/v1alpha1"]
    kind: Literal["Registry"]
    metadata: RegistryMetadata
    spec: RegistrySpec

    @property
    def pull_host(self) -> str:
        return self.spec.public_host or self.spec.host
