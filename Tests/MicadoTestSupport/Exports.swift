// The stand-ins of the clouds are the tests' as much as the demo's.
@_exported import MicadoStandIns
