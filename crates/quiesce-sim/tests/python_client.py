"""Drives a running `quiesce sim` with the official Elasticsearch Python client, unchanged.

Usage: python_client.py URL [SECURED_URL]

URL is a simulator without security; SECURED_URL (optional) one whose seed defines the user
`admin`/`s3cret` (manage_ml), the user `viewer`/`look` (monitor_ml) and the API key
`py-key`/`py-secret` (manage_ml). Every check raises AssertionError on a mismatch; the exit code
is non-zero on any failure.
"""

import sys

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConflictError,
    Elasticsearch,
    NotFoundError,
)

JOB = "py-client-job"
DATAFEED = "datafeed-py-client-job"


def expect(error_type, call, *args, **kwargs):
    """Runs `call` and returns the error it must raise."""
    try:
        call(*args, **kwargs)
    except error_type as error:
        return error
    raise AssertionError(f"{call.__name__} did not raise {error_type.__name__}")


def lifecycle(es):
    info = es.info()
    assert info["tagline"] == "You Know, for Search", info
    assert info["version"]["number"].startswith("8."), info
    assert es.ping()

    es.ml.put_job(
        job_id=JOB,
        analysis_config={"bucket_span": "15m", "detectors": [{"function": "count"}]},
        data_description={"time_field": "@timestamp"},
    )
    es.ml.put_datafeed(datafeed_id=DATAFEED, job_id=JOB, indices=["py-client-*"])
    jobs = es.ml.get_jobs(job_id=JOB)
    assert jobs["count"] == 1 and jobs["jobs"][0]["job_id"] == JOB, jobs

    opened = es.ml.open_job(job_id=JOB)
    assert opened["opened"] is True, opened
    started = es.ml.start_datafeed(datafeed_id=DATAFEED)
    assert started["started"] is True, started

    job_stats = es.ml.get_job_stats(job_id=JOB)
    assert job_stats["jobs"][0]["state"] == "opened", job_stats
    df_stats = es.ml.get_datafeed_stats(datafeed_id=DATAFEED)
    assert df_stats["datafeeds"][0]["state"] == "started", df_stats

    conflict = expect(ConflictError, es.ml.open_job, job_id=JOB)
    assert conflict.meta.status == 409
    assert conflict.body["error"]["reason"] == (
        f"Cannot open job [{JOB}] because it has already been opened"
    ), conflict.body

    stopped = es.ml.stop_datafeed(datafeed_id=DATAFEED, timeout="20s")
    assert stopped["stopped"] is True, stopped
    closed = es.ml.close_job(job_id=JOB, timeout="30m")
    assert closed["closed"] is True, closed
    assert es.ml.get_job_stats(job_id=JOB)["jobs"][0]["state"] == "closed"
    assert es.ml.get_datafeed_stats(datafeed_id=DATAFEED)["datafeeds"][0]["state"] == "stopped"
    snapshots = es.ml.get_model_snapshots(job_id=JOB)
    assert snapshots["count"] >= 1, snapshots
    assert snapshots["model_snapshots"][0]["description"].startswith(
        "State persisted due to job close at "
    ), snapshots

    missing = expect(NotFoundError, es.ml.close_job, job_id="no-such-job")
    assert missing.meta.status == 404
    assert missing.body["error"]["type"] == "resource_not_found_exception", missing.body
    assert missing.body["error"]["reason"] == "No known job with id 'no-such-job'", missing.body
    expect(NotFoundError, es.ml.stop_datafeed, datafeed_id="no-such-datafeed")

    assert es.ml.set_upgrade_mode(enabled=True)["acknowledged"] is True
    assert es.ml.info()["upgrade_mode"] is True
    refused = expect(ApiError, es.ml.open_job, job_id=JOB)
    assert refused.meta.status == 429, refused.meta.status
    assert refused.body["error"]["reason"] == (
        "Cannot perform cluster:admin/xpack/ml/job/open action while upgrade mode is enabled"
    ), refused.body
    assert es.ml.set_upgrade_mode(enabled=False)["acknowledged"] is True
    assert es.ml.info()["upgrade_mode"] is False

    es.ml.delete_datafeed(datafeed_id=DATAFEED)
    es.ml.delete_job(job_id=JOB)
    assert es.ml.get_jobs(job_id="py-client-*")["count"] == 0


def secured(url):
    anonymous = Elasticsearch(url, request_timeout=30)
    denied = expect(AuthenticationException, anonymous.ml.info)
    assert denied.meta.status == 401
    assert denied.body["error"]["reason"] == (
        "missing authentication credentials for REST request [/_ml/info]"
    ), denied.body

    wrong = Elasticsearch(url, basic_auth=("admin", "wrong"), request_timeout=30)
    denied = expect(AuthenticationException, wrong.ml.info)
    assert "unable to authenticate user [admin]" in denied.body["error"]["reason"], denied.body

    admin = Elasticsearch(url, basic_auth=("admin", "s3cret"), request_timeout=30)
    assert admin.security.authenticate()["username"] == "admin"
    privileges = admin.security.has_privileges(cluster=["manage_ml", "monitor_ml"])
    assert privileges["has_all_requested"] is True, privileges

    viewer = Elasticsearch(url, basic_auth=("viewer", "look"), request_timeout=30)
    assert viewer.ml.get_job_stats()["count"] >= 0
    forbidden = expect(AuthorizationException, viewer.ml.set_upgrade_mode, enabled=False)
    assert forbidden.meta.status == 403
    assert forbidden.body["error"]["reason"].endswith(
        "this action is granted by the cluster privileges [manage_ml,manage,all]"
    ), forbidden.body

    keyed = Elasticsearch(url, api_key=("py-key", "py-secret"), request_timeout=30)
    me = keyed.security.authenticate()
    assert me["authentication_type"] == "api_key" and me["api_key"]["id"] == "py-key", me
    assert keyed.ml.set_upgrade_mode(enabled=False)["acknowledged"] is True


def main():
    lifecycle(Elasticsearch(sys.argv[1], request_timeout=30))
    print("python client: lifecycle ok")
    if len(sys.argv) > 2:
        secured(sys.argv[2])
        print("python client: security ok")


if __name__ == "__main__":
    main()
