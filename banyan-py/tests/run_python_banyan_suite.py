"""Python Banyan's own test suite (shipped in its wheel: python_banyan/tests/banyan_base and
banyan_base_multi) run against rust_banyan and a Rust Banyan backplane, changed only in its
import line.

    python run_python_banyan_suite.py --backplane target/debug/backplane

The interpreter needs python-banyan 3.17, rust_banyan and pytest. The suite's files are
copied from the installed python_banyan package into a temporary directory with
``from python_banyan.<module> import <Class>`` rewritten to ``from rust_banyan import
<Class>`` (nothing of python-banyan is kept in this repository). The multi suite reads CSV
spec files that its wheel does not ship (``test_specs/`` holds only ``__init__.py``); the ones
written here are made from the test names (see SPECS).

The suite uses Python Banyan's default ports 43124/43125 (its components take no others); the
Rust backplane is started on them first and stopped at the end. Python's tests also start
``backplane`` from PATH when the first process is not one: PATH is prefixed with the Rust
backplane's directory, whose second instance then finds the ports taken and exits.
Exit status: pytest's.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SUITES = {
    'banyan_base': ('test_banyanBase.py', 'from python_banyan.banyan_base import BanyanBase',
                    'from rust_banyan import BanyanBase'),
    'banyan_base_multi': ('test_banyanBaseMulti.py',
                          'from python_banyan.banyan_base_multi import BanyanBaseMulti',
                          'from rust_banyan import BanyanBaseMulti'),
}

HEADER = 'backplane_name,ip_address,subscriber_port,subscriber_topic,publisher_port\n'

# The spec files test_banyanBaseMulti.py names, written from what each test expects:
# sample.csv has 'Motors' (subscriber only), 'Sensors' (publisher only) and 'LEDS' (both),
# all on this backplane; the others each break one rule of BanyanBaseMulti's CSV check.
SPECS = {
    'sample.csv': HEADER + 'Motors,127.0.0.1,43125,[motors],\n'
                           'Sensors,127.0.0.1,,,43124\n'
                           'LEDS,127.0.0.1,43125,"[leds,all_leds]",43124\n',
    'sample_duplicate_backplane_name.csv': HEADER + 'Motors,127.0.0.1,43125,[motors],43124\n'
                                                    'Motors,127.0.0.1,43125,[leds],43124\n',
    'sample_missing_left_bracket.csv': HEADER + 'Motors,127.0.0.1,43125,motors],43124\n',
    'sample_missing_right_bracket.csv': HEADER + 'Motors,127.0.0.1,43125,[motors,43124\n',
    'sample_with_space.csv': HEADER + 'Motors,127.0.0.1,43125,"[motors, leds]",43124\n',
}


def port_free(port):
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(('0.0.0.0', port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def copy_suite(tests_dir, name, workdir):
    filename, old, new = SUITES[name]
    with open(os.path.join(tests_dir, name, filename)) as source:
        text = source.read()
    if text.count(old) != 1:
        raise SystemExit('%s: expected the line %r once; python-banyan changed?' % (filename, old))
    target = os.path.join(workdir, name)
    os.makedirs(target)
    with open(os.path.join(target, filename), 'w') as copy:
        copy.write(text.replace(old, new))
    if name == 'banyan_base_multi':
        specs = os.path.join(target, 'test_specs')
        os.makedirs(specs)
        for spec, content in SPECS.items():
            with open(os.path.join(specs, spec), 'w') as out:
                out.write(content)
    return os.path.join(target, filename)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backplane', required=True, help='the Rust backplane binary')
    parser.add_argument('--suite', action='append', choices=sorted(SUITES),
                        help='run only this suite (repeatable; default: all)')
    args = parser.parse_args()
    import python_banyan
    tests_dir = os.path.join(os.path.dirname(python_banyan.__file__), 'tests')
    for port in (43124, 43125):
        if not port_free(port):
            raise SystemExit('port %d is taken: Python Banyan\'s suite needs its default '
                             'ports 43124/43125 free (stop the backplane using them)' % port)
    backplane = os.path.abspath(args.backplane)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1',
               PATH=os.path.dirname(backplane) + os.pathsep + os.environ.get('PATH', ''))
    workdir = tempfile.mkdtemp(prefix='banyan-suite-')
    process = subprocess.Popen([backplane], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while port_free(43125):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit('the backplane did not start')
            time.sleep(0.05)
        files = [copy_suite(tests_dir, name, workdir) for name in (args.suite or sorted(SUITES))]
        return subprocess.call([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                                '--rootdir', workdir] + files, cwd=workdir, env=env)
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
