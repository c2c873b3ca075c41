import DevMeshCLI

await DevMeshCommand.start()
