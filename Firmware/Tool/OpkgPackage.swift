/// An OpenWrt package (.ipk) of the overlay, in the form OpenWrt's own
/// ipkg-build writes: a gzipped tar of ./debian-binary, ./data.tar.gz and
/// ./control.tar.gz, which opkg installs with `opkg install FILE.ipk`.
enum OpkgPackage {
    static let packageName = "camagent"

    static func make(overlay: Overlay, board: BoardProfile, version: String, mtime: Int) throws -> [UInt8] {
        let initScript = "/etc/init.d/\(board.initScriptName)"
        let installedSize = overlay.files.reduce(0) { $0 + $1.contents!.count }
        let control = """
            Package: \(packageName)
            Version: \(version)
            Architecture: \(board.opkgArch!)
            Maintainer: camagent
            Section: net
            Installed-Size: \(installedSize)
            Description: camagent connects the cameras behind this router (\(board.name)) to their management endpoint.

            """
        // postinst/prerm run on the router; IPKG_INSTROOT is set when building an image offline.
        let postinst = """
            #!/bin/sh
            [ -n "$IPKG_INSTROOT" ] && exit 0
            \(initScript) enable
            \(initScript) restart
            exit 0

            """
        let prerm = """
            #!/bin/sh
            [ -n "$IPKG_INSTROOT" ] && exit 0
            \(initScript) stop
            \(initScript) disable
            exit 0

            """
        var controlTar = TarWriter(mtime: mtime)
        try controlTar.addDirectory(".")
        try controlTar.addFile("./control", contents: Array(control.utf8), mode: 0o644)
        // The config survives upgrades (it holds the unit's identity).
        try controlTar.addFile("./conffiles", contents: Array("\(board.configPath)\n".utf8), mode: 0o644)
        try controlTar.addFile("./postinst", contents: Array(postinst.utf8), mode: 0o755)
        try controlTar.addFile("./prerm", contents: Array(prerm.utf8), mode: 0o755)

        var outer = TarWriter(mtime: mtime)
        try outer.addDirectory(".")
        try outer.addFile("./debian-binary", contents: Array("2.0\n".utf8), mode: 0o644)
        try outer.addFile("./data.tar.gz", contents: try overlay.tarGz(mtime: mtime), mode: 0o644)
        try outer.addFile("./control.tar.gz", contents: try Zlib.gzip(controlTar.finished()), mode: 0o644)
        return try Zlib.gzip(outer.finished())
    }
}
