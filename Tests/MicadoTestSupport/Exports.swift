// What the tests stand the manager on: the simulated swarm and cloud (MicadoSim) and the
// clouds' stand-ins (MicadoStandIns).
@_exported import MicadoSim
@_exported import MicadoStandIns
