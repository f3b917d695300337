"""Computes the MSK IAM (SASL OAUTHBEARER) token vector for the C unit test with botocore's own
signer, as aws-msk-iam-sasl-signer does: a SigV4 presigned GET of
https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect (service kafka-cluster,
900 s), with User-Agent appended, base64url-encoded without padding. Fixed time and keys."""
import base64
import datetime
import json
import os
from unittest import mock

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "msk", "token.json")


def main():
    cases = []
    for token in (None, "FQoGZXIvYXdzEXAMPLETOKEN/with+chars="):
        creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
        req = AWSRequest(method="GET", url="https://kafka.eu-west-1.amazonaws.com/",
                         params={"Action": "kafka-cluster:Connect"})
        fixed = datetime.datetime(2026, 11, 26, 12, 0, 0)
        with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
            SigV4QueryAuth(creds, "kafka-cluster", "eu-west-1", expires=900).add_auth(req)
        url = req.url + "&User-Agent=dualstackd/1.0"
        cases.append({"region": "eu-west-1", "access_key_id": creds.access_key,
                      "secret_access_key": creds.secret_key, "session_token": token or "",
                      "time": 1795694400, "user_agent": "dualstackd/1.0", "url": url,
                      "token": base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")})
    with open(OUT, "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    print(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
