import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import MillwrightCore
import Testing
import MillwrightTesting

/// What the connectors send, and what the emulators accept, checked against the official
/// contracts in `Tests/Fixtures/specs/cmms` (see SOURCES.md there).
@Suite struct SpecConformanceTests {
    func sapConnector(_ extra: [String: String] = [:]) throws -> SAPPMConnector {
        let http = HTTPClient.test()
        var s = SAPPMTests.settings("http://127.0.0.1:1", ["plant": "1010", "planner_group": "I01", "work_center": "MECH", "work_center_plant": "1010",
                                                           "reported_by": "MWINTEGR", "coding_group": "PM1", "coding_code": "CRCK"].merging(extra) { $1 })
        s.kind = "sap-pm"
        return try #require(try CMMSRegistry.makeConnector(s, http: http) as? SAPPMConnector)
    }

    @Test func edmxParserReadsTheNotificationMetadata() throws {
        let m = try EDMXModel.load(try Fixtures.specFile("sap-API_MAINTNOTIFICATION.edmx.xml"))
        #expect(m.namespace == "cds_api_maintnotification")
        let t = try #require(m.type(ofSet: "MaintenanceNotification"))
        #expect(t.keys == ["MaintenanceNotification"])
        #expect(t.properties["NotificationText"] == EDMXProperty(name: "NotificationText", type: "Edm.String", maxLength: 40, nullable: false))
        #expect(t.properties["MaintNotifExtReferenceNumber"]?.maxLength == 20)
        #expect(t.properties["MaintNotifLongTextForEdit"]?.maxLength == SAPPMConnector.longTextMax)
        #expect(t.properties["MalfunctionStartDate"]?.type == "Edm.DateTime")
        #expect(t.properties["MalfunctionStartTime"]?.type == "Edm.Time")
        #expect(t.properties["MaintenanceNotification"]?.creatable == false)
        #expect(t.properties["NotificationType"]?.updatable == false)
        #expect(t.navigation.contains("to_Item"))
        #expect(m.functionImports.isSuperset(of: ["SetMaintNotifToInProcess", "CompleteMaintNotification"]))
        #expect(t.properties.count > 100)
    }

    @Test(arguments: ["equipment", "functional_location"])
    func everyNotificationPropertyTheConnectorSendsIsInTheEDMX(technicalObject: String) throws {
        let t = try #require(try EDMXModel.load(try Fixtures.specFile("sap-API_MAINTNOTIFICATION.edmx.xml")).type(ofSet: "MaintenanceNotification"))
        let c = try sapConnector(["technical_object": technicalObject])
        // The longest texts we can produce: a 40-character title and a very long description.
        let long = String(repeating: "Defect detail line with evidence.\n", count: 200)
        for p in Priority.allCases {
            let payload = c.notificationPayload(Fixtures.draft(title: String(repeating: "T", count: 40), priority: p, description: long))
            for (name, _) in payload {
                let prop = try #require(t.properties[name], "\(name) is not a property of MaintenanceNotificationType")
                #expect(prop.creatable, "\(name) is not creatable")
            }
            #expect(ODataValidation.validate(payload, against: t, creating: true, required: ["NotificationText"]).isEmpty)
            #expect(payload["MaintNotifLongTextForEdit"]?.stringValue?.hasSuffix("https://mw.example/e/1)") == true)
        }
    }

    @Test(arguments: ["sap-API_MAINTENANCEORDER-v1.edmx.xml", "sap-API_MAINTENANCEORDER-v2.edmx.xml"])
    func orderPayloadFitsBothOrderAPIVersions(file: String) throws {
        let t = try #require(try EDMXModel.load(try Fixtures.specFile(file)).type(ofSet: "MaintenanceOrder"))
        for to in ["equipment", "functional_location"] {
            let payload = try sapConnector(["technical_object": to]).orderPayload(Fixtures.draft(), notification: "10000001")
            #expect(ODataValidation.validate(payload, against: t, creating: true).isEmpty, "\(file) \(to)")
        }
    }

    @Test func attachmentHeadersFitTheAttachmentServiceKeys() throws {
        let m = try EDMXModel.load(try Fixtures.specFile("sap-API_CV_ATTACHMENT_SRV.edmx.xml"))
        let t = try #require(m.type(ofSet: "AttachmentContentSet"))
        #expect(t.hasStream)
        #expect(t.keys.contains("LinkedSAPObjectKey") && t.keys.contains("BusinessObjectTypeName"))
        let c = try sapConnector()
        #expect(c.attachmentKey("10000001") == "000010000001")
        #expect(try #require(t.properties["LinkedSAPObjectKey"]?.maxLength) >= c.attachmentKey("10000001").count)
        #expect(try #require(t.properties["BusinessObjectTypeName"]?.maxLength) >= "PMQMEL".count)
    }

    /// The built-in tables `millwright emulate` validates against hold exactly what the EDMX files
    /// say: every property with its type, length and flags, the same keys, in the files' order
    /// (only the tenant's `ZZ1_` extension of the notification file is left out).
    @Test func builtInTablesEqualTheSpecFiles() throws {
        let builtIn = SAPPMEmulator.Models.load(from: nil), files = SAPPMEmulator.Models.load(from: Fixtures.specs)
        #expect(files.notification.source.hasSuffix("sap-API_MAINTNOTIFICATION.edmx.xml") && builtIn.notification.source == "embedded")
        for (set, b, f) in [("MaintenanceNotification", builtIn.notification, files.notification), ("MaintenanceOrder", builtIn.order, files.order),
                            ("AttachmentContentSet", builtIn.attachment, files.attachment)] {
            let embedded = try #require(b.type(ofSet: set)), real = try #require(f.type(ofSet: set))
            #expect(embedded.name == real.name, "\(set)")
            #expect(embedded.order == real.order, "\(set): property names or order differ")
            for name in real.order { #expect(embedded.properties[name] == real.properties[name], "\(set).\(name)") }
            #expect(embedded.properties.count == real.properties.count, "\(set)")
            #expect(Set(embedded.keys) == Set(real.keys), "\(set)")
        }
        #expect(try #require(builtIn.notification.type(ofSet: "MaintenanceNotification")).properties.count > 100)
    }

    @Test func emulatorLoadsTheSpecFilesAndDropsCustomerExtensions() throws {
        let m = SAPPMEmulator.Models.load(from: Fixtures.specs)
        #expect(m.notification.source.hasSuffix("sap-API_MAINTNOTIFICATION.edmx.xml"))
        let t = try #require(m.notification.type(ofSet: "MaintenanceNotification"))
        #expect(t.properties["ZZ1_work_test_NTF"] == nil)
        #expect(t.properties["MaintNotifExtReferenceNumber"] != nil)
        #expect(m.order.source.hasSuffix("v2.edmx.xml"))
    }
}
