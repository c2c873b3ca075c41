/// Merges Procfile entries and devmesh.yaml services: the Procfile gives the command, YAML the rest.
enum ConfigMerge {
    static func merge(procfile: Procfile, yaml: StackConfig, diagnostics: inout [Diagnostic]) -> StackConfig {
        var config = yaml
        var byName: [String: ServiceConfig] = [:]
        for s in yaml.services { byName[s.name] = s }
        var services: [ServiceConfig] = []
        for entry in procfile.entries {
            var service = byName.removeValue(forKey: entry.name) ?? ServiceConfig(name: entry.name, run: "")
            service.origin.procfileLine = entry.location
            if service.runLocation != nil {
                diagnostics.append(.error(
                    at: service.runLocation,
                    "the command of `\(entry.name)` is given twice: here and in \(entry.location)",
                    hint: "keep one: remove `run:` here, or the line `\(entry.name): …` from the Procfile"))
            } else {
                service.run = entry.command
                service.runLocation = entry.commandLocation
            }
            services.append(service)
        }
        for s in yaml.services where byName[s.name] != nil {
            if s.run.isEmpty, s.runLocation == nil {
                diagnostics.append(.error(
                    at: s.origin.yamlKey, "service `\(s.name)` has no command",
                    hint: "add `run: <command>` under it, or a Procfile line `\(s.name): <command>`"))
            }
            services.append(s)
        }
        config.services = services
        return config
    }
}
