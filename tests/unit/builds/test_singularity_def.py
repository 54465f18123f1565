"""The Singularity definition file translator (builds/singularity_def.py): pure text in, text out."""

from __future__ import annotations

import json

import pytest

from builds.singularity_def import META, POST_SCRIPT, DefinitionError, is_definition, translate

DEF = """\
Bootstrap: docker
From: localhost:5000/library/busybox:latest

%files
    data/hello.txt /opt/hello.txt
    "data/with space.txt"

%post
    echo built > /built.txt
    echo 'export FROM_POST=yes' >> $SINGULARITY_ENVIRONMENT

%environment
    export GREETING="hello world"

%runscript
    echo "$GREETING" "$@"

%labels
    Author someone@example.org
    Version 1.0

%help
    Says hello.
"""


def run_line(dockerfile: str) -> list[str]:
    line = next(line for line in dockerfile.splitlines() if line.startswith("RUN "))
    return json.loads(line[4:])


def post_script(translation) -> str:
    return translation.files[POST_SCRIPT]["text"]


def test_it_translates_the_common_sections_into_a_dockerfile():
    translation = translate(DEF)
    lines = translation.dockerfile.splitlines()
    assert lines[0] == "FROM localhost:5000/library/busybox:latest"
    assert lines[1] == 'COPY ["data/hello.txt", "/opt/hello.txt"]'
    assert lines[2] == 'COPY ["data/with space.txt", "/data/with space.txt"]'
    assert lines[3] == f"COPY {META}/ /.singularity.d/"
    assert lines[4] == f'COPY ["{POST_SCRIPT}", "/.post.script"]'
    assert run_line(translation.dockerfile) == [
        "/bin/sh", "-c", "/bin/sh -e -x /.post.script; status=$?; rm -f /.post.script; exit $status"
    ]
    script = post_script(translation)
    assert "echo built > /built.txt\n" in script and "SINGULARITY_ENVIRONMENT=/.singularity.d/env/91-environment.sh" in script
    assert lines[-2:] == ['LABEL "Author"="someone@example.org"', 'LABEL "Version"="1.0"']
    assert translation.copies == ("data/hello.txt", "data/with space.txt")


def test_environment_runscript_help_and_the_file_itself_become_singularity_metadata():
    files = translate(DEF).files
    environment = files[f"{META}/env/90-environment.sh"]
    assert environment["text"].startswith("#!/bin/sh\n") and 'export GREETING="hello world"' in environment["text"]
    runscript = files[f"{META}/runscript"]
    assert runscript["text"] == '#!/bin/sh\n\n    echo "$GREETING" "$@"\n' and runscript["mode"] == 0o755
    assert files[f"{META}/runscript.help"]["text"] == "    Says hello.\n"
    assert files[f"{META}/Singularity"]["text"] == DEF


def test_a_minimal_file_has_no_run_step():
    translation = translate("Bootstrap: docker\nFrom: busybox\n")
    assert translation.dockerfile == f"FROM busybox\nCOPY {META}/ /.singularity.d/\n"
    assert f"{META}/runscript" not in translation.files  # the image's ENTRYPOINT/CMD then make it


def test_crlf_tabs_and_header_case_are_read_as_apptainer_reads_them():
    text = "# a comment\r\n\r\nBootStrap :\tdocker\r\nFROM:   busybox:1.36  \r\n%post\r\n\techo hi\r\n%RUNSCRIPT\r\n  exec echo run\r\n"
    translation = translate(text)
    assert translation.dockerfile.startswith("FROM busybox:1.36\n")
    assert post_script(translation).endswith("\techo hi\n")
    assert "\r" not in translation.files[f"{META}/runscript"]["text"]


def test_post_may_name_its_shell():
    translation = translate("Bootstrap: docker\nFrom: busybox\n%post -c /bin/bash\necho hi\n")
    assert run_line(translation.dockerfile)[-1].startswith("/bin/bash -e -x /.post.script;")


def test_repeated_sections_add_up_in_order():
    translation = translate("Bootstrap: docker\nFrom: busybox\n%post\necho one\n%labels\nA 1\n%post\necho two\n")
    script = post_script(translation)
    assert script.index("echo one") < script.index("echo two")


def test_quotes_and_newlines_cannot_escape_the_dockerfile_line():
    text = 'Bootstrap: docker\nFrom: busybox\n%post\necho "]" \\\nRUN echo injected\n%labels\nkey "va\\"lue\nother x\n'
    translation = translate(text)
    assert [line.split()[0] for line in translation.dockerfile.splitlines()] == ["FROM", "COPY", "COPY", "RUN", "LABEL", "LABEL"]
    assert "RUN echo injected\n" in post_script(translation)
    assert translation.dockerfile.splitlines()[-2] == 'LABEL "key"="\\"va\\\\\\"lue"'


@pytest.mark.parametrize(
    "text, message",
    [
        ("Bootstrap: localimage\nFrom: ./base.sif\n", "Bootstrap agent 'localimage' is not supported"),
        ("Bootstrap: library\nFrom: ubuntu\n", "Bootstrap agent 'library' is not supported"),
        ("From: busybox\n%post\necho\n", "no 'Bootstrap' header"),
        ("Bootstrap: docker\n%post\necho\n", "no 'From' header"),
        ("Bootstrap: docker\nFrom: Not An Image!\n", "Header 'From' 'Not An Image!' is not an image reference"),
        ("Bootstrap: docker\nFrom: busybox\nRegistry: quay.io\n", "Header keyword 'registry' is not supported"),
        ("Bootstrap: docker\nBootstrap: docker\nFrom: busybox\n", "Header keyword 'Bootstrap' is given twice"),
        ("Bootstrap: docker\nFrom: busybox\nnot a header\n", "Line 3 of the definition file is neither a header"),
        ("Bootstrap: docker\nFrom: busybox\n%setup\ntouch ${SINGULARITY_ROOTFS}/x\n", "Section '%setup' is refused: it runs on the build host"),
        ("Bootstrap: docker\nFrom: busybox\n%test\ntrue\n", "Section '%test' is not supported"),
        ("Bootstrap: docker\nFrom: busybox\n%startscript\ntrue\n", "Section '%startscript' is not supported"),
        ("Bootstrap: docker\nFrom: busybox\n%appinstall foo\ntrue\n", "Section '%appinstall' is not supported"),
        ("Bootstrap: docker\nFrom: busybox\n%\ntrue\n", "starts a section with no name"),
        ("Bootstrap: docker\nFrom: busybox\n%files\n../secret /x\n", "%files source '../secret' leaves the build context"),
        ("Bootstrap: docker\nFrom: busybox\n%files\ndata/../../etc /x\n", "%files source 'data/../../etc' leaves the build context"),
        ("Bootstrap: docker\nFrom: busybox\n%files\n/etc/shadow /x\n", "%files source '/etc/shadow' is an absolute path"),
        ("Bootstrap: docker\nFrom: busybox\n%files\n. /x\n", "%files source '.' must name files of the build context"),
        (f"Bootstrap: docker\nFrom: busybox\n%files\n{META}/runscript /x\n", "must name files of the build context"),
        (f"Bootstrap: docker\nFrom: busybox\n%files\n{POST_SCRIPT}\n", "must name files of the build context"),
        ("Bootstrap: docker\nFrom: busybox\n%files\na b c\n", "has more than a source and a destination"),
        ("Bootstrap: docker\nFrom: busybox\n%files\n'unterminated /x\n", "cannot be read"),
        ("Bootstrap: docker\nFrom: busybox\n%files from build\na /a\n", "Section '%files' takes no arguments, not 'from build'"),
        ("Bootstrap: docker\nFrom: busybox\n%post -c bash\necho\n", "%post takes only '-c <shell>'"),
        ("Bootstrap: docker\nFrom: busybox\n%post\necho \x00\n", "NUL character"),
    ],
)
def test_it_refuses_what_it_cannot_translate_naming_it(text, message):
    with pytest.raises(DefinitionError) as caught:
        translate(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Bootstrap: docker\nFrom: busybox\n", True),
        ("  # comment\n\nbootstrap:docker\n", True),
        ("%post\necho\n", True),
        ("FROM busybox\nRUN echo hi\n", False),
        ("# syntax=docker/dockerfile:1\nFROM busybox:latest\n", False),
        ("ARG BASE=busybox\nFROM $BASE\n", False),
        ("", False),
    ],
)
def test_it_tells_a_definition_file_from_a_dockerfile(text, expected):
    assert is_definition(text) is expected
