"""/organizations/{org_id}/certificates and /certificates: thin handlers over CertificateService."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, Request, Response, status

from app.auth.dependencies import OrganizationScope, organization_scope, require
from app.auth.permissions import Permission
from app.auth.principals import Principal
from app.certificates.schemas import (
    MAX_FILE_BYTES,
    Certificate,
    CertificateQuery,
    CertificateUpload,
    CertificateVerification,
)
from app.certificates.service import REGISTRATION_REFUSALS, CertificateServiceDep
from app.http.errors import Conflict, ServiceUnavailable
from app.http.etag import IfMatch, set_etag
from app.http.headers import created
from app.http.openapi import problems
from app.http.pagination import Page, PageDep
from app.idempotency.routing import ResourceRoute

router = APIRouter(tags=["依頼人証明書 (certificates)"], route_class=ResourceRoute)

CanManage = Annotated[OrganizationScope, Depends(organization_scope(Permission.CERTIFICATE_MANAGE))]
CanListAll = Annotated[Principal, Depends(require(Permission.CERTIFICATE_LIST_ALL))]
CertificateIdPath = Annotated[
    str, Path(max_length=64, title="証明書番号", description="32 hexadecimal characters")
]
COLLECTION = "/organizations/{org_id}/certificates"
ITEM = COLLECTION + "/{certificate_id}"


@router.post(
    COLLECTION,
    status_code=status.HTTP_201_CREATED,
    summary="依頼人証明書登録",
    description=(
        "The PKCS#12 file (.p12/.pfx, at most "
        f"{MAX_FILE_BYTES // 1024} KiB) and its password, as multipart/form-data. The file must open with the "
        "password, hold one private key and its certificate, be valid now, use RSA of 2048 bits or more or "
        "an elliptic curve P-256 or stronger, and allow digitalSignature. Each refusal is a 422 with its own "
        "`code`, and nothing is stored. The new certificate becomes `active`; the previous one `replaced`. "
        "The file and password are stored encrypted and never shown again."
    ),
    responses=problems(
        401,
        403,
        404,
        415,
        *REGISTRATION_REFUSALS,
        Conflict("certificate_already_registered"),
        ServiceUnavailable("certificate_check_busy", context={"retry_after": 10}),
    ),
)
async def register_certificate(
    scope: CanManage,
    body: Annotated[CertificateUpload, File(media_type="multipart/form-data")],
    service: CertificateServiceDep,
    request: Request,
    response: Response,
) -> Certificate:
    """Register a certificate."""
    certificate = await service.register(scope, body)
    created(request, response, certificate.id, certificate.version)
    return certificate


@router.get(
    COLLECTION,
    summary="依頼人証明書の一覧",
    description="The organization's certificates, newest first, replaced ones included.",
    responses=problems(401, 403, 404, 422),
)
async def list_certificates(
    scope: CanManage, service: CertificateServiceDep, page: PageDep
) -> Page[Certificate]:
    """The organization's certificates."""
    return await service.search(scope, page)


@router.get(
    ITEM,
    summary="依頼人証明書の参照",
    description="One certificate of the organization, with its ETag.",
    responses=problems(401, 403, 404),
)
async def get_certificate(
    scope: CanManage, certificate_id: CertificateIdPath, service: CertificateServiceDep, response: Response
) -> Certificate:
    """One certificate."""
    certificate = await service.get(scope, certificate_id)
    set_etag(response, certificate.version)
    return certificate


@router.get(
    ITEM + "/verification",
    summary="依頼人証明書の確認",
    description=(
        "Decrypts the stored file and password and opens the file with the password, as AINAS does to sign: "
        "200 when it opens and is still this certificate; 409 `certificate_secret_unreadable` when it does "
        "not (register the certificate again). Nothing secret is answered."
    ),
    responses=problems(401, 403, 404, 409),
)
async def verify_certificate(
    scope: CanManage, certificate_id: CertificateIdPath, service: CertificateServiceDep
) -> CertificateVerification:
    """Check that the stored file still opens."""
    return await service.verify(scope, certificate_id)


@router.delete(
    ITEM,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="依頼人証明書の削除",
    description=(
        "The encrypted file and password are destroyed; the audit event keeps the "
        "certificate's metadata. Deleting the active certificate leaves the organization without one "
        "(the replaced ones stay replaced). Send If-Match with the ETag you read."
    ),
    responses=problems(401, 403, 404, 412),
)
async def delete_certificate(
    scope: CanManage, certificate_id: CertificateIdPath, expected: IfMatch, service: CertificateServiceDep
) -> Response:
    """Delete a certificate."""
    await service.delete(scope, certificate_id, expected)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/certificates",
    summary="依頼人証明書の一覧（全依頼人組織）",
    description=(
        "Operators: the certificates of every organization, soonest expiry first by default. "
        "`expires_within_days=30` lists the certificates in use that expire within 30 days or have expired "
        "already, so that requesters can be reminded before their filings fail."
    ),
    responses=problems(401, 403, 422),
)
async def list_all_certificates(
    principal: CanListAll,
    service: CertificateServiceDep,
    query: Annotated[CertificateQuery, Query()],
) -> Page[Certificate]:
    """Search every organization's certificates."""
    return await service.search_all(query, query.page())
