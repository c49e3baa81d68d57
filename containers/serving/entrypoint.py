"""The serving image's entry point: ``docker run <image> serve`` starts the model server.

SageMaker starts a hosting container as ``docker run <image> serve`` and stops it with SIGTERM
("Use Your Own Inference Code with Hosting Services", SageMaker Developer Guide,
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html). The Dockerfiles
run this file through an exec-form ENTRYPOINT, so no shell stands between Docker and Python, and this
process becomes gunicorn's arbiter itself rather than a parent that would have to forward signals:
SIGTERM reaches gunicorn, which lets in-flight requests finish and exits 0.

Any argument other than ``serve`` is refused with exit status 2 (the usage-error status), so a
container started by mistake for training (``docker run <image> train``) fails at once and says why,
instead of serving on a training instance until the job times out. Settings the server cannot run with
(``serving_app.ServerSettingsError``, such as several workers on Neuron devices) are refused the same
way, before any worker starts, with one line per setting saying what to set instead.
"""

from __future__ import annotations

import sys

EXPECTED = ["serve"]


def main(argv: list[str]) -> int:
    if argv != EXPECTED:
        given = " ".join(argv) if argv else "no argument"
        print(
            f"error: this image serves a model and accepts one argument, 'serve' (SageMaker runs "
            f"'docker run <image> serve'); got {given}. For training use the training image.",
            file=sys.stderr,
        )
        return 2
    # Imported only now: a wrong argument is reported even where the toolkit is not installed.
    from serving_app import ServerSettingsError, ServingApplication

    try:
        application = ServingApplication()
    except ServerSettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    application.run()  # gunicorn's arbiter exits the process itself: 0 after SIGTERM
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
