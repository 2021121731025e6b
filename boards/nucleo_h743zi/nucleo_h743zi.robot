*** Comments ***
Renode tests of the STM32H743 build: the sensor greets, and a latent round trip equals the golden
model. Run from the repository root after `pio run -e nucleo_h743zi`:

    renode-test boards/nucleo_h743zi/nucleo_h743zi.robot --variable ARTIFACT:$PWD/artifacts/default

(`make test` runs this wherever `renode-test` is on PATH: tests/test_renode.py.)

*** Settings ***
Suite Setup       Setup
Suite Teardown    Teardown
Test Setup        Boot Sensor
Test Teardown     Stop Sensor
Resource          ${RENODEKEYWORDS}
Library           ${CURDIR}/../../host/hil/robot_sensor.py

*** Variables ***
${ELF}            ${CURDIR}/../../.pio/build/nucleo_h743zi/firmware.elf
${ARTIFACT}       ${CURDIR}/../../artifacts/default
${PORT}           3456
${SAMPLES}        48

*** Keywords ***
Boot Sensor
    Execute Command         $elf=@${ELF}
    Execute Command         $port=${PORT}
    Execute Command         include @${CURDIR}/nucleo_h743zi.resc
    Start Emulation
    Connect To Sensor       ${PORT}

Stop Sensor
    Disconnect From Sensor
    Test Teardown

*** Test Cases ***
Sensor Greets With HELLO
    Sensor Should Greet     nucleo_h743zi

Latent Round Trip Equals The Golden Model
    Latents Should Match The Golden Model    ${ARTIFACT}    ${SAMPLES}
