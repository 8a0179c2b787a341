# The Airflow image with requirements.txt baked in, so that docker-compose.yaml need not pip install
# it every time a container starts (which is for trying things out only). docs/docker-compose.md:
#   docker build -t hitl-detection-airflow:3.3.2 .
#   and in .env: AIRFLOW_IMAGE_NAME=hitl-detection-airflow:3.3.2 and _PIP_ADDITIONAL_REQUIREMENTS=
# The DAGs, plugins and include/ stay mounted by docker-compose.yaml; copy them in as well to deploy
# the image elsewhere.
FROM apache/airflow:3.3.2
COPY requirements.txt /requirements.txt
# Naming Airflow's own version keeps pip from moving it while resolving the requirements.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt
